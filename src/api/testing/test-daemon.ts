// Test harness: a full Strata daemon in-process on 127.0.0.1, driven the way users drive it (AWS SDK).
//
// Usage in any API test:
//   import { startTestDaemon } from '../testing/test-daemon.ts';
//   const strata = await startTestDaemon();                // SQLite in a temp data dir
//   after(() => strata.close());
//   const ec2 = strata.ec2();                               // EC2Client signed with the admin key
//   const bob = strata.ec2(await strata.createAccount('bob'));
//   await strata.restart();                                 // same data dir and port: persistence tests
// PostgreSQL: `startTestDaemon({ postgres: true })` uses a fresh database inside STRATA_TEST_PG_URL
// (set by scripts/test); check `postgresSkipReason()` first and skip with it when defined.
// STRATA_TEST_LOG=debug prints the daemon's logs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { EC2Client } from '@aws-sdk/client-ec2';
import { createLogger, silentLogger } from '../../base/log.ts';
import type { Logger } from '../../base/log.ts';
import type { AccessKey, KeyPair } from '../../cloud/common/accounts.ts';
import type { Cloud } from '../../cloud/cloud.ts';
import { startDaemon } from '../../daemon/daemon.ts';
import type { Daemon, DaemonOptions } from '../../daemon/daemon.ts';

/** How to start a test daemon. */
export interface TestDaemonOptions {
  /** Use a fresh database in STRATA_TEST_PG_URL instead of SQLite. */
  readonly postgres?: boolean;
  readonly region?: string;
  readonly zones?: readonly string[];
  readonly adminKeys?: KeyPair;
  /** Passed to the daemon: a snapshot archive store and its tuning (cloud/ebs/snapshot-archive.ts). */
  readonly snapshotStore?: DaemonOptions['snapshotStore'];
  readonly snapshotArchive?: DaemonOptions['snapshotArchive'];
  /** Passed to the daemon: a driver kept across restarts, and instance networking's ports. */
  readonly vmDriver?: DaemonOptions['vmDriver'];
  readonly networkSource?: DaemonOptions['networkSource'];
  readonly metadataSource?: DaemonOptions['metadataSource'];
}

/** A running test daemon. */
export interface TestDaemon {
  /** `http://127.0.0.1:PORT`; restart keeps the port unless another process took it meanwhile. */
  readonly endpoint: string;
  readonly region: string;
  readonly dataDir: string;
  /** The admin account's key. */
  readonly admin: AccessKey;
  /** The live services (changes on restart). */
  readonly cloud: Cloud;
  /** The daemon's instance networking, when its ports were given (changes on restart). */
  readonly network: Daemon['network'];
  /** An EC2Client for `key` (default: admin), no retries, pointed at this daemon. */
  ec2(key?: KeyPair): EC2Client;
  /** Creates another account and returns its key. */
  createAccount(name?: string): Promise<AccessKey>;
  /** Stops and starts the daemon on the same data dir, database and port. */
  restart(): Promise<void>;
  /** Stops the daemon and removes its data dir (and its PostgreSQL database). */
  close(): Promise<void>;
}

/** Why the PostgreSQL variant cannot run here, or undefined when it can. */
export function postgresSkipReason(): string | undefined {
  return process.env.STRATA_TEST_PG_URL
    ? undefined
    : 'STRATA_TEST_PG_URL is not set (scripts/test starts a throwaway PostgreSQL)';
}

/** Starts a daemon with a temp data dir; see the file comment. */
export async function startTestDaemon(options: TestDaemonOptions = {}): Promise<TestDaemon> {
  const dataDir = mkdtempSync(join(tmpdir(), 'strata-test-'));
  const pgDatabase = options.postgres === true ? await createPgDatabase() : undefined;
  const logger = testLogger();
  const start = (port: number): Promise<Daemon> =>
    startDaemon({
      dataDir,
      listen: { host: '127.0.0.1', port },
      hypervisor: 'fake',
      logger,
      ...(pgDatabase !== undefined ? { databaseUrl: pgDatabase.url } : {}),
      ...(options.region !== undefined ? { region: options.region } : {}),
      ...(options.zones !== undefined ? { zones: options.zones } : {}),
      ...(options.adminKeys !== undefined ? { adminKeys: options.adminKeys } : {}),
      ...(options.snapshotStore !== undefined ? { snapshotStore: options.snapshotStore } : {}),
      ...(options.snapshotArchive !== undefined ? { snapshotArchive: options.snapshotArchive } : {}),
      ...(options.vmDriver !== undefined ? { vmDriver: options.vmDriver } : {}),
      ...(options.networkSource !== undefined ? { networkSource: options.networkSource } : {}),
      ...(options.metadataSource !== undefined ? { metadataSource: options.metadataSource } : {}),
    });
  let daemon: Daemon;
  try {
    daemon = await start(0);
  } catch (error) {
    await pgDatabase?.drop();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const port = Number(new URL(daemon.endpoint).port);
  const clients: EC2Client[] = [];
  let counter = 0;
  return {
    get endpoint() {
      return daemon.endpoint;
    },
    region: daemon.cloud.regions.region,
    dataDir,
    admin: daemon.admin,
    get cloud() {
      return daemon.cloud;
    },
    get network() {
      return daemon.network;
    },
    ec2(key: KeyPair = daemon.admin) {
      const client = new EC2Client({
        endpoint: daemon.endpoint,
        region: daemon.cloud.regions.region,
        credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
        maxAttempts: 1,
      });
      clients.push(client);
      return client;
    },
    async createAccount(name = `account${++counter}-${randomBytes(3).toString('hex')}`) {
      return (await daemon.cloud.accounts.create(name)).key;
    },
    async restart() {
      await daemon.close();
      daemon = await restartOn(start, port);
    },
    async close() {
      for (const client of clients.splice(0)) client.destroy();
      await daemon.close();
      await pgDatabase?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// Same port, so clients made before the restart still reach it; another process may grab the port in the
// gap, so retry a little, then take any port (tests reading `endpoint` afterwards still work).
async function restartOn(start: (port: number) => Promise<Daemon>, port: number): Promise<Daemon> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      return await start(port);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return start(0);
}

function testLogger(): Logger {
  const level = process.env.STRATA_TEST_LOG;
  return level ? createLogger({ level, pretty: false }) : silentLogger;
}

/** A throwaway database inside the test cluster, so parallel test files never share tables. */
export async function createPgDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = process.env.STRATA_TEST_PG_URL;
  if (!base) throw new Error(postgresSkipReason());
  const name = `strata_test_${randomBytes(6).toString('hex')}`;
  await withPgClient(base, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () =>
      withPgClient(base, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(
        () => undefined,
      ),
  };
}

async function withPgClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
