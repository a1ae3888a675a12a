// The composition root: `strata serve` in one process — database, block store, NBD, accounts, API.
//
// Usage:
//   const daemon = await startDaemon({ dataDir, listen: { host: '127.0.0.1', port: 8773 }, logger });
//   daemon.endpoint …; daemon.admin.accessKeyId …; await daemon.close();
// To add a domain service, add it to Cloud (cloud/cloud.ts) and construct it in `composeCloud` below.
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { assertLimits, limits } from '../base/limits.ts';
import type { Logger } from '../base/log.ts';
import { openDatabase } from '../db/database.ts';
import type { OpenedDatabase } from '../db/database.ts';
import { openBlockStore } from '../storage/open-block-store.ts';
import { Archive, type LazyRestoreStore } from '../objectstore/objectstore.ts';
import type { BlockStore } from '../storage/block-store.ts';
import { startNbdServer } from '../nbd/start-nbd-server.ts';
import { loadOrCreateKeyFile } from '../base/key-file.ts';
import type { NbdServer, NbdServerOptions } from '../nbd/nbd-server.ts';
import { NbdPskKeys, nbdTcpTls } from './nbd-access.ts';
import { Accounts } from '../cloud/common/accounts.ts';
import type { AccessKey, KeyPair } from '../cloud/common/accounts.ts';
import { SecretBox } from '../cloud/common/accounts-secrets.ts';
import { createRegions, type Regions } from '../cloud/common/regions.ts';
import { createEbs, type Ebs } from '../cloud/ebs/ebs.ts';
import { createEbsDirect } from '../cloud/ebs-direct/ebs-direct.ts';
import { createCompute, type Compute } from '../cloud/instances/compute.ts';
import { instanceMetadataSource } from '../cloud/instances/instance-metadata.ts';
import { createVpcNetworking, type VpcNetworking } from '../cloud/vpc/vpc.ts';
import { registerDemoImage } from '../cloud/images/demo-ami.ts';
import { snapshotUsage } from '../cloud/images/images.ts';
import { volumeAttachments } from '../cloud/instances/attachments.ts';
import { createVmDriver } from '../compute/create-driver.ts';
import type { VmDriver } from '../compute/vm-driver.ts';
import { ebsDirectHandler } from '../api/ebs/ebs-router.ts';
import type { Cloud, Hypervisor } from '../cloud/cloud.ts';
import { startApiServer } from '../api/api-server.ts';
import type { ApiServer } from '../api/api-server.ts';
import { defaultConsoleAssetsDir } from '../api/console/console-assets.ts';
import { ConsoleLogins } from '../api/console/console-logins.ts';
import { consoleLoginUrl } from '../api/console/console-routes.ts';
import { writeCredentialsFiles } from './credentials-files.ts';
import { DataDirLockedError, lockDataDir, type DataDirLock } from './data-dir-lock.ts';
import { assertCanListen, explainListenError } from './listen-check.ts';
import { startAdminSocket, type AdminVerb } from './admin-socket.ts';
import { SnapshotArchive, type SnapshotArchiveSettings } from '../cloud/ebs/snapshot-archive.ts';
import { openSnapshotStore } from '../objectstore/open-snapshot-store.ts';
import type { SnapshotStore, SnapshotStoreConfig } from '../objectstore/snapshot-store.ts';
import type { InstanceNetworkSource, NetworkRefresh } from '../network/instance-network.ts';
import type { MetadataSource } from '../metadata/metadata.ts';
import { InstanceNetworking } from './instance-networking.ts';

/** A host and port. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** Everything `strata serve` decides. */
export interface DaemonOptions {
  readonly dataDir: string;
  readonly listen: ListenAddress;
  /** `postgres://…`; default SQLite at `<data-dir>/strata.db`. */
  readonly databaseUrl?: string;
  readonly hypervisor?: Hypervisor;
  /** Extra NBD TCP listener besides `<data-dir>/nbd.sock`. */
  readonly nbdListen?: ListenAddress;
  /**
   * TLS on the NBD TCP listener: `on` (default) requires STARTTLS with an account's PSK or certificate and
   * shows each account only its own volumes and snapshots; `off` (plain, everything visible) is refused
   * unless `nbdListen` is a loopback address.
   */
  readonly nbdTls?: 'on' | 'off';
  /** Directory with ca-cert.pem, server-cert.pem and server-key.pem: adds x509 client certificates to PSK. */
  readonly nbdTlsX509Dir?: string;
  readonly region?: string;
  readonly zones?: readonly string[];
  /** `--demo-image`: register the demo image as the admin's AMI `strata-demo` at start (cloud/images/demo-ami.ts). */
  readonly demoImage?: boolean;
  /**
   * What daemon shutdown does to running VMs: `keep` (default) leaves them running for the next daemon to
   * re-adopt; `stop` stops their instances (graceful power-off) first.
   */
  readonly vmsOnShutdown?: 'keep' | 'stop';
  /** Imposed admin keys (STRATA_ADMIN_ACCESS_KEY_ID / _SECRET_ACCESS_KEY), used only when no account exists. */
  readonly adminKeys?: KeyPair;
  readonly logger: Logger;
  /** How long ModifyVolume stays `optimizing`, in ms (default 1000). */
  readonly ebsOptimizingMs?: number;
  /** A VM driver to use instead of the one `hypervisor` names (tests share a fake host across restarts). */
  readonly vmDriver?: VmDriver;
  /** `--snapshot-store`: where snapshots are archived (default none); tests may pass an open store. */
  readonly snapshotStore?: SnapshotStoreConfig | SnapshotStore;
  /** Archive tuning (retry deadline, GC grace, chunks in flight). */
  readonly snapshotArchive?: SnapshotArchiveSettings;
  /** Instances' networks, when not cloud/'s own (tests); see `networkPorts`. */
  readonly networkSource?: InstanceNetworkSource;
  /** Instances' metadata, when not cloud/'s own (tests); see `networkPorts`. */
  readonly metadataSource?: MetadataSource;
  /** The built web console (default: dist/console of this checkout; docs/console.md). */
  readonly consoleAssetsDir?: string;
}

/** A running daemon. */
export interface Daemon {
  readonly cloud: Cloud;
  /** The API URL (`http://127.0.0.1:8773`). */
  readonly endpoint: string;
  /** The admin account's key (written to `<data-dir>/credentials`). */
  readonly admin: AccessKey;
  /** Instance networking, when it runs: changed() applies rule, address and metadata option changes. */
  readonly network: (NetworkRefresh & { settled(): Promise<void> }) | undefined;
  /** Stops accepting, finishes in-flight requests, closes NBD, the store and the database. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts everything; on failure, closes what it had opened and rethrows. Throws DataDirLockedError when
 * another daemon runs on the data dir, and ListenError when a listen address is taken; a data dir this
 * call created is removed again on any failure, so a failed first start leaves nothing behind.
 */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  assertLimits();
  const dataDir = resolve(options.dataDir);
  const fresh = isFreshDataDir(dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  let lock: DataDirLock | undefined;
  try {
    lock = lockDataDir(dataDir);
    chmodSync(dataDir, 0o700);
    await assertCanListen(options.listen, '--listen');
    if (options.nbdListen !== undefined) await assertCanListen(options.nbdListen, '--nbd-listen');
    const daemon = await composeDaemon(options, dataDir);
    const held = lock;
    return {
      ...daemon,
      close: async () => {
        await daemon.close();
        held.release();
      },
    };
  } catch (error) {
    lock?.release();
    // Only what this call made: a data dir that held anything before is never touched.
    if (fresh && !(error instanceof DataDirLockedError)) emptyDataDir(dataDir, fresh);
    throw error;
  }
}

// 'absent' or 'empty' when a failed start may remove what it made there; undefined for a dir in use.
function isFreshDataDir(dataDir: string): 'absent' | 'empty' | undefined {
  if (!existsSync(dataDir)) return 'absent';
  return readdirSync(dataDir).length === 0 ? 'empty' : undefined;
}

function emptyDataDir(dataDir: string, fresh: 'absent' | 'empty'): void {
  if (fresh === 'absent') {
    rmSync(dataDir, { recursive: true, force: true });
    return;
  }
  for (const entry of readdirSync(dataDir)) rmSync(join(dataDir, entry), { recursive: true, force: true });
}

// Everything but the data dir's lock, which startDaemon holds around it.
async function composeDaemon(options: DaemonOptions, dataDir: string): Promise<Daemon> {
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse()) await close();
  };
  try {
    const secrets = SecretBox.openOrCreate(join(dataDir, 'master.key'));
    const database = await openDatabase(
      options.databaseUrl !== undefined
        ? { url: options.databaseUrl }
        : { sqlitePath: join(dataDir, 'strata.db') },
    );
    closers.push(() => database.close());
    const target = await openTarget(options, closers);
    const { store, lazy } = await openStore(options, dataDir, target);
    closers.push(() => store.close());
    const nbd = await startNbdServer({
      store,
      socketPath: join(dataDir, 'nbd.sock'),
      attachmentKey: loadOrCreateKeyFile(join(dataDir, 'nbd-attachment.key')),
      ...nbdTcp(options, dataDir, database),
      logger: options.logger,
    }).catch((error: unknown) => {
      throw options.nbdListen === undefined
        ? error
        : explainListenError(error, options.nbdListen, '--nbd-listen');
    });
    closers.push(() => nbd.close());
    const archive = target === undefined ? undefined : openArchive(options, database, store, target, lazy);
    const driver =
      options.vmDriver ?? createVmDriver(options.hypervisor ?? 'qemu', { dataDir, logger: options.logger });
    const network = instanceNetworking(options, dataDir, driver, () => cloud);
    closers.push(() => network.close());
    const cloud = composeCloud(options, { dataDir, database, store, nbd, secrets, archive, driver, network });
    closers.push(() => cloud.ebs.close());
    await cloud.ebs.recover();
    closers.push(() => Promise.resolve(cloud.ebsDirect.close()));
    await cloud.ebsDirect.recover();
    closers.push(() => closeCompute(options, cloud, driver));
    await cloud.compute.recover();
    probeInBackground(options.logger, driver);
    const admin = await ensureAdmin(options, cloud);
    const consoleLogins = new ConsoleLogins();
    const adminSocket = await startAdminSocket(
      join(dataDir, 'admin.sock'),
      adminVerbs(cloud, consoleLogins, admin.key),
      options.logger,
    );
    closers.push(() => adminSocket.close());
    const api = await startApiServer({
      cloud,
      logger: options.logger,
      host: options.listen.host,
      port: options.listen.port,
      ebs: ebsDirectHandler,
      console: { assetsDir: options.consoleAssetsDir ?? defaultConsoleAssetsDir(), logins: consoleLogins },
    }).catch((error: unknown) => {
      throw explainListenError(error, options.listen, '--listen');
    });
    closers.push(() => api.close());
    const endpoint = clientEndpoint(api, options.listen.host);
    cloud.endpoint = endpoint;
    writeCredentialsFiles(dataDir, admin.key, cloud.regions.region, endpoint);
    logStarted(options, cloud, endpoint, nbd, admin.created ? admin.key.accessKeyId : undefined);
    return { cloud, endpoint, admin: admin.key, network, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/**
 * The one place cloud/'s networking ports are wired: InstanceNetworkSource (VPCs, groups, addresses) and
 * MetadataSource (IMDS). `cloud()` is the composed Cloud, ready by the time an instance starts.
 */
function networkPorts(
  options: DaemonOptions,
  cloud: () => Cloud,
): { source: InstanceNetworkSource; metadata: MetadataSource } {
  const own: InstanceNetworkSource = { networkOf: (instanceId) => cloud().vpc.source.networkOf(instanceId) };
  const source = options.networkSource ?? own;
  const metadata =
    options.metadataSource ??
    ((instanceId: string) => {
      const { db, regions, ebs } = cloud();
      return instanceMetadataSource({ db, regions, tags: ebs.tags, networks: source })(instanceId);
    });
  return { source, metadata };
}

// Switches, metadata channels and public forwards for instances, when the network ports are wired.
function instanceNetworking(
  options: DaemonOptions,
  dataDir: string,
  driver: VmDriver,
  cloud: () => Cloud,
): InstanceNetworking {
  const ports = networkPorts(options, cloud);
  return new InstanceNetworking({
    directory: join(dataDir, 'network'),
    driver,
    source: { networkOf: (instanceId) => ports.source.networkOf(instanceId) },
    metadata: (instanceId) => ports.metadata(instanceId),
    secret: loadOrCreateKeyFile(join(dataDir, 'imds.key')),
    logger: options.logger,
  });
}

// The pool; with an archive, wrapped so that snapshots brought back from there read through to it (lazy restore).
async function openStore(
  options: DaemonOptions,
  dataDir: string,
  target: SnapshotStore | undefined,
): Promise<{ store: BlockStore; lazy: LazyRestoreStore | undefined }> {
  // No quota: lifts the creation-time capacity of pools made before the file system bounded them.
  const pool = await openBlockStore({
    dir: join(dataDir, 'pool'),
    capacityBytes: limits.poolCapacityBytesUnbounded,
    logger: options.logger,
  });
  if (target === undefined) return { store: pool, lazy: undefined };
  const lazy = await new Archive(target, options.snapshotArchive)
    .openLazy(pool, {
      recordsPath: join(dataDir, 'lazy-restore.json'),
      logger: options.logger,
      ...pick(options.snapshotArchive, 'hydrationBytesPerSecond'),
    })
    .catch(async (error: unknown) => {
      await pool.close();
      throw error;
    });
  return { store: lazy, lazy };
}

// The admin account (created on first start), and the demo image when asked for.
async function ensureAdmin(options: DaemonOptions, cloud: Cloud): ReturnType<Accounts['ensureAdmin']> {
  const admin = await cloud.accounts.ensureAdmin(options.adminKeys);
  if (!admin.created && options.adminKeys && options.adminKeys.accessKeyId !== admin.key.accessKeyId) {
    options.logger.warn(
      'STRATA_ADMIN_ACCESS_KEY_ID is ignored: the admin account already exists with another key',
    );
  }
  if (options.demoImage === true) {
    const demo = await registerDemoImage(cloud, admin.key.accountId);
    // Said once, when it happens; a restart finds it and says nothing.
    if (demo.registered) options.logger.info({ imageId: demo.imageId }, 'demo image registered');
  }
  return admin;
}

// The NBD TCP listener with TLS (PSKs from the master key, loaded after SecretBox made sure it exists).
function nbdTcp(
  options: DaemonOptions,
  dataDir: string,
  database: OpenedDatabase,
): Pick<NbdServerOptions, 'tcp'> {
  if (options.nbdTlsX509Dir !== undefined && (options.nbdListen === undefined || options.nbdTls === 'off'))
    throw new Error('--nbd-tls-x509 needs --nbd-listen with --nbd-tls on');
  if (options.nbdListen === undefined) return {};
  if (options.nbdTls === 'off') return { tcp: options.nbdListen };
  const psk = new NbdPskKeys(loadOrCreateKeyFile(join(dataDir, 'master.key')));
  return { tcp: { ...options.nbdListen, tls: nbdTcpTls(database.db, psk, options.nbdTlsX509Dir) } };
}

// The named settings that are set, without undefined values (exactOptionalPropertyTypes).
function pick<T extends object, K extends keyof T>(from: T | undefined, ...keys: K[]): Partial<Pick<T, K>> {
  const picked: Partial<Pick<T, K>> = {};
  for (const key of keys) if (from?.[key] !== undefined) picked[key] = from[key];
  return picked;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

// What the daemon opened before composing the services.
interface Opened {
  readonly dataDir: string;
  readonly database: OpenedDatabase;
  readonly store: BlockStore;
  readonly nbd: NbdServer;
  readonly secrets: SecretBox;
  readonly archive: SnapshotArchive | undefined;
  readonly driver: VmDriver;
  readonly network: InstanceNetworking;
}

// One line per service; each takes what it needs explicitly.
function composeCloud(options: DaemonOptions, opened: Opened): Mutable<Cloud> {
  const { dataDir, database, store, nbd, secrets, archive, driver, network } = opened;
  const regions = createRegions(options.region, options.zones);
  const ebs = createEbs({
    db: database.db,
    store,
    logger: options.logger,
    regions,
    optimizingMs: options.ebsOptimizingMs,
    // Ports compute answers over its own tables; EBS never imports compute.
    attachments: volumeAttachments(database.db),
    snapshotUsage: snapshotUsage(database.db),
    ...(archive !== undefined ? { archive } : {}),
  });
  const { vpc, compute } = composeInstances(
    options,
    dataDir,
    database,
    store,
    nbd,
    ebs,
    regions,
    driver,
    network,
  );
  return {
    dataDir,
    logger: options.logger,
    db: database.db,
    dbDialect: database.dialect,
    store,
    nbd,
    accounts: new Accounts(database.db, secrets),
    regions,
    ebs,
    ebsDirect: createEbsDirect({
      db: database.db,
      store,
      tags: ebs.tags,
      logger: options.logger,
      dataDir,
      ...(archive !== undefined
        ? {
            archiveSealed: (id: string) => ebs.snapshots.archiveInBackground(id),
            ensureSnapshotInPool: archive.ensureInPool,
          }
        : {}),
    }),
    compute,
    vpc,
    hypervisor: options.hypervisor ?? 'qemu',
    // Set once the API port is bound (port 0 picks one), before any request is served.
    endpoint: '',
  };
}

// The VPC model and compute: the VPC model reads public addresses from compute, built after it (a late-bound port).
function composeInstances(
  options: DaemonOptions,
  dataDir: string,
  database: OpenedDatabase,
  store: BlockStore,
  nbd: NbdServer,
  ebs: Ebs,
  regions: Regions,
  driver: VmDriver,
  network: InstanceNetworking,
): { vpc: VpcNetworking; compute: Compute } {
  const late: { compute?: Compute } = {};
  const vpc = createVpcNetworking({
    db: database.db,
    regions,
    paginator: ebs.paginator,
    tags: ebs.tags,
    refresh: network,
    publicAddressOf: async (instanceId) => late.compute?.addresses.publicAddressOf(instanceId),
  });
  late.compute = createCompute({
    db: database.db,
    store,
    nbd,
    ebs,
    regions,
    vpc: vpc.launch,
    networks: vpc.source,
    wantsPublicAddress: (instanceId) => vpc.interfaces.wantsPublicIp(instanceId),
    dataDir,
    logger: options.logger,
    driver,
    network,
    networkRefresh: network,
  });
  return { vpc, compute: late.compute };
}

// What `strata` may ask the running daemon (admin-socket.ts).
function adminVerbs(cloud: Cloud, consoleLogins: ConsoleLogins, admin: AccessKey): Record<string, AdminVerb> {
  return {
    // `strata console-url`: a one-time sign-in link for the admin (api/console/console-logins.ts).
    'console-url': () => Promise.resolve(consoleLoginUrl(cloud.endpoint, consoleLogins.mint(admin))),
    async evict(request) {
      const { snapshotId } = request;
      if (typeof snapshotId !== 'string') throw new Error('evict needs a snapshotId');
      const archive = cloud.ebs.archive;
      if (archive === undefined)
        throw new Error('the daemon runs without --snapshot-store: nothing is archived');
      await archive.evict(snapshotId);
      return `${snapshotId}: pool copy dropped; the archive in ${archive.description} keeps it`;
    },
  };
}

// Closed after the pool (closers run in reverse), which reads through to it.
async function openTarget(
  options: DaemonOptions,
  closers: (() => Promise<void>)[],
): Promise<SnapshotStore | undefined> {
  const given = options.snapshotStore;
  if (given === undefined) return undefined;
  const target = 'kind' in given ? await openSnapshotStore(given) : given;
  if (target === null) return undefined;
  if ('kind' in given) closers.push(() => target.close());
  return target;
}

// The store is closed after the EBS services (closers run in reverse), which cancel archives first.
function openArchive(
  options: DaemonOptions,
  database: OpenedDatabase,
  store: BlockStore,
  target: SnapshotStore,
  lazy: LazyRestoreStore | undefined,
): SnapshotArchive {
  options.logger.info({ snapshotStore: target.description }, 'archiving snapshots');
  return new SnapshotArchive({
    db: database.db,
    store,
    logger: options.logger,
    target,
    ...(lazy !== undefined ? { lazy } : {}),
    ...(options.snapshotArchive !== undefined ? { settings: options.snapshotArchive } : {}),
  });
}

// The driver resolves its capabilities once (the qemu driver boots a probe VM to see whether KVM works, up to
// ~10 s); started now, in the background, so that the first RunInstances finds the answer waiting.
function probeInBackground(logger: Logger, driver: VmDriver): void {
  driver.capabilities().then(
    (capabilities) => logger.info({ capabilities }, 'vm driver ready'),
    (error: unknown) => logger.warn({ err: error }, 'vm driver capabilities: RunInstances will fail'),
  );
}

// VMs keep running after close() unless --vms-on-shutdown stop; the log says how many were left.
async function closeCompute(options: DaemonOptions, cloud: Cloud, driver: VmDriver): Promise<void> {
  if (options.vmsOnShutdown === 'stop') await cloud.compute.stopAll();
  // Counted before close(), which forgets the VMs (they keep running).
  const left = await driver.list().catch(() => []);
  await cloud.compute.close();
  logVmsLeft(options.logger, left.length);
}

// With --vms-on-shutdown keep, VMs outlive the daemon on purpose: say how many, so nobody wonders.
function logVmsLeft(logger: Logger, count: number): void {
  const message =
    count === 0
      ? 'no VMs left running'
      : `${count} VM${count === 1 ? '' : 's'} left running for the next daemon to adopt`;
  logger.info({ vmsLeftRunning: count }, message);
}

// A wildcard listen address is not something a client can connect to; point clients at loopback.
function clientEndpoint(api: ApiServer, listenHost: string): string {
  if (listenHost === '0.0.0.0' || listenHost === '::') return `http://127.0.0.1:${api.port}`;
  return api.url;
}

function logStarted(
  options: DaemonOptions,
  cloud: Cloud,
  endpoint: string,
  nbd: NbdServer,
  createdKey?: string,
): void {
  options.logger.info(
    {
      endpoint,
      dataDir: cloud.dataDir,
      database: cloud.dbDialect,
      region: cloud.regions.region,
      hypervisor: cloud.hypervisor,
      nbdSocket: nbd.socketPath,
      nbdTcp: nbd.tcpAddress,
    },
    `strata listening on ${endpoint}`,
  );
  if (createdKey !== undefined) {
    options.logger.info(
      { accessKeyId: createdKey, credentials: join(cloud.dataDir, 'credentials') },
      'created the admin account',
    );
  }
}
