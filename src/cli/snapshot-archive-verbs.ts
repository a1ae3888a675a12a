// `strata snapshot verify|evict|import-archive`: the snapshot archive's verbs (cloud/ebs/snapshot-archive.ts).
// - verify reads only the snapshot store, so it runs any time, from any host that reaches the store;
// - import-archive writes one database row (like `strata account`), so it runs with the daemon up or down;
// - evict changes the pool, which only one process may open: with the daemon running it asks the daemon
//   (<data-dir>/admin.sock), otherwise it opens the pool itself.
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { silentLogger } from '../base/log.ts';
import { socketAnswers } from '../base/private-socket.ts';
import { adminRequest } from '../daemon/admin-socket.ts';
import { Accounts } from '../cloud/common/accounts.ts';
import { SecretBox } from '../cloud/common/accounts-secrets.ts';
import { SnapshotArchive } from '../cloud/ebs/snapshot-archive.ts';
import { openDatabase } from '../db/database.ts';
import { dataDirOption, databaseLocation, databaseOption } from '../daemon/daemon-config.ts';
import { Archive } from '../objectstore/objectstore.ts';
import { openSnapshotStore } from '../objectstore/open-snapshot-store.ts';
import type { SnapshotStore } from '../objectstore/snapshot-store.ts';
import type { BlockStore } from '../storage/block-store.ts';
import { openBlockStore } from '../storage/open-block-store.ts';
import {
  snapshotStoreFromFlags,
  snapshotStoreOptions,
  type SnapshotStoreFlags,
} from './snapshot-store-flags.ts';

interface ArchiveFlags extends SnapshotStoreFlags {
  dataDir: string;
  database?: string;
  account?: string;
  json?: boolean;
}

/** Adds the archive verbs to `strata snapshot`. */
export function registerArchiveVerbs(snapshot: Command): void {
  const withStore = (command: Command): Command => {
    for (const option of snapshotStoreOptions()) command.addOption(option);
    return command.addOption(dataDirOption()).addOption(databaseOption());
  };
  withStore(snapshot.command('verify <snapshot-id>'))
    .description('re-read and check every chunk of an archived snapshot; exits 1 on missing or corrupt ones')
    .option('--json', 'print the report as JSON')
    .action((snapshotId: string, flags: ArchiveFlags) => run('verify', () => verify(snapshotId, flags)));
  withStore(snapshot.command('evict <snapshot-id>'))
    .description('drop the pool copy of a completed archived snapshot; it comes back, lazily, on use')
    .action((snapshotId: string, flags: ArchiveFlags) => run('evict', () => evict(snapshotId, flags)));
  withStore(snapshot.command('import-archive <snapshot-id>'))
    .description('register a snapshot archived by another pool, for an account (default admin)')
    .option('--account <name>', 'the owning account', 'admin')
    .action((snapshotId: string, flags: ArchiveFlags) =>
      run('import-archive', () => importArchive(snapshotId, flags)),
    );
}

// One line on failure (no stack), exit code 1; a failed verification sets the exit code itself.
async function run(verb: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    console.error(`strata snapshot ${verb}: ${name}: ${message}`);
    process.exitCode = 1;
  }
}

async function openTarget(flags: ArchiveFlags): Promise<SnapshotStore> {
  const target = await openSnapshotStore(snapshotStoreFromFlags(flags));
  if (target === null) throw new Error('name the archive with --snapshot-store (or STRATA_SNAPSHOT_STORE)');
  return target;
}

async function verify(snapshotId: string, flags: ArchiveFlags): Promise<void> {
  const source = await openTarget(flags);
  try {
    const report = await new Archive(source).verify(snapshotId);
    if (flags.json === true) console.log(JSON.stringify(report, null, 2));
    else {
      console.log(
        `${snapshotId}: ${report.ok ? 'ok' : 'DAMAGED'}: ${report.chunksChecked} chunks, ` +
          `${report.bytesChecked} bytes checked, ${report.missing.length} missing, ${report.corrupt.length} corrupt`,
      );
      for (const hash of report.missing) console.log(`missing ${hash}`);
      for (const hash of report.corrupt) console.log(`corrupt ${hash}`);
    }
    if (!report.ok) process.exitCode = 1;
  } finally {
    await source.close();
  }
}

// The daemon serves `<data-dir>/nbd.sock` while it runs; a stale socket file refuses the connection.
function daemonRunning(dataDir: string): Promise<boolean> {
  return socketAnswers(join(dataDir, 'nbd.sock'));
}

async function withArchive(
  flags: ArchiveFlags,
  pool: boolean,
  use: (archive: SnapshotArchive, accounts: Accounts) => Promise<void>,
): Promise<void> {
  const dataDir = resolve(flags.dataDir);
  const target = await openTarget(flags);
  const database = await openDatabase(databaseLocation(dataDir, flags.database));
  let store: BlockStore | undefined;
  try {
    // Without the pool, the archive service only touches the database and the snapshot store.
    store = pool ? await openBlockStore({ dir: join(dataDir, 'pool'), logger: silentLogger }) : undefined;
    const archive = new SnapshotArchive({
      db: database.db,
      store: store ?? poolNotOpen,
      logger: silentLogger,
      target,
    });
    await use(archive, new Accounts(database.db, SecretBox.openOrCreate(join(dataDir, 'master.key'))));
  } finally {
    await store?.close();
    await database.close();
    await target.close();
  }
}

// import-archive never reaches the pool; any use of it is a bug.
const poolNotOpen = new Proxy({} as BlockStore, {
  get: (_, property) => {
    throw new Error(`bug: import-archive used the pool (${String(property)})`);
  },
});

// The pool has one owner: with the daemon up, it evicts (through its admin socket); else this process does.
async function evict(snapshotId: string, flags: ArchiveFlags): Promise<void> {
  const dataDir = resolve(flags.dataDir);
  if (await daemonRunning(dataDir)) {
    console.log(await adminRequest(join(dataDir, 'admin.sock'), { verb: 'evict', snapshotId }));
    return;
  }
  await withArchive(flags, true, async (archive) => {
    await archive.evict(snapshotId);
    console.log(`${snapshotId}: pool copy dropped; the archive in ${archive.description} keeps it`);
  });
}

async function importArchive(snapshotId: string, flags: ArchiveFlags): Promise<void> {
  await withArchive(flags, false, async (archive, accounts) => {
    const name = flags.account ?? 'admin';
    const account = await accounts.byName(name);
    if (account === undefined) throw new Error(`no account named ${name}`);
    await archive.importArchived(account.id, snapshotId);
    console.log(`${snapshotId}: imported for ${name} (${account.id}); CreateVolume restores it`);
  });
}
