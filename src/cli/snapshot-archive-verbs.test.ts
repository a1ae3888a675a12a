// `strata snapshot verify|evict|import-archive` run as users run them (bin/strata, a child process) against
// daemons sharing one `dir:` snapshot store: evict works through the running daemon (admin.sock) and on a
// stopped one, and CreateVolume brings the snapshot back; a second daemon with a fresh data dir imports
// the snapshot; verify exits 0 on a sound archive and 1 once a chunk is damaged at rest.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateSnapshotCommand,
  CreateVolumeCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { limits } from '../base/limits.ts';
import { silentLogger } from '../base/log.ts';
import { startDaemon, type Daemon } from '../daemon/daemon.ts';
import { randomBuffer, seededRandom } from '../objectstore/testing/pools.ts';

const strataBin = fileURLToPath(new URL('../../bin/strata', import.meta.url));
const seed = Number(process.env.STRATA_TEST_SEED ?? Date.now() % 1_000_000);
console.log(`snapshot-archive-verbs.test.ts seed ${seed} (replay with STRATA_TEST_SEED=${seed})`);
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function tempDirectory(prefix: string): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(path, { recursive: true, force: true }));
  return path;
}

function strata(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(strataBin, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      done({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr });
    });
  });
}

async function until(what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function start(dataDir: string, archiveDir: string): Promise<{ daemon: Daemon; ec2: EC2Client }> {
  const daemon = await startDaemon({
    dataDir,
    listen: { host: '127.0.0.1', port: 0 },
    hypervisor: 'fake',
    logger: silentLogger,
    snapshotStore: { kind: 'dir', path: archiveDir },
  });
  const ec2 = new EC2Client({
    endpoint: daemon.endpoint,
    region: daemon.cloud.regions.region,
    credentials: daemon.admin,
    maxAttempts: 1,
  });
  cleanups.push(async () => {
    ec2.destroy();
    await daemon.close();
  });
  return { daemon, ec2 };
}

async function volume(ec2: EC2Client, zone: string, snapshotId?: string): Promise<string> {
  const { VolumeId } = await ec2.send(
    new CreateVolumeCommand({
      AvailabilityZone: zone,
      ...(snapshotId ? { SnapshotId: snapshotId } : { Size: 1 }),
    }),
  );
  assert.ok(VolumeId !== undefined);
  await until(`${VolumeId} available`, async () => {
    const { Volumes } = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [VolumeId] }));
    assert.notEqual(Volumes?.[0]?.State, 'error');
    return Volumes?.[0]?.State === 'available';
  });
  return VolumeId;
}

test('verify, evict and import-archive through bin/strata', async () => {
  const archiveDir = await tempDirectory('strata-verbs-archive-');
  const dataA = await tempDirectory('strata-verbs-a-');
  const store = ['--snapshot-store', `dir:${archiveDir}`];
  const a = await start(dataA, archiveDir);
  const zone = `${a.daemon.cloud.regions.region}a`;
  const volumeId = await volume(a.ec2, zone);
  const data = randomBuffer(seededRandom(seed), 3 * limits.ebsBlockBytes);
  await a.daemon.cloud.store.write(volumeId, 7 * limits.ebsBlockBytes, data);
  const { SnapshotId: snapId } = await a.ec2.send(new CreateSnapshotCommand({ VolumeId: volumeId }));
  assert.ok(snapId !== undefined);
  await until('archived', async () => {
    const { Snapshots } = await a.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapId] }));
    return Snapshots?.[0]?.State === 'completed';
  });

  const verified = await strata(['snapshot', 'verify', snapId, ...store]);
  assert.equal(verified.code, 0, verified.stderr);
  assert.match(verified.stdout, /: ok: 3 chunks/);

  // Evict while the daemon runs: bin/strata asks it through <data-dir>/admin.sock, and the next
  // CreateVolume reads the data back through the archive.
  const online = await strata(['snapshot', 'evict', snapId, '--data-dir', dataA, ...store]);
  assert.equal(online.code, 0, online.stderr);
  assert.match(online.stdout, /pool copy dropped/);
  assert.equal(a.daemon.cloud.store.device(snapId), undefined, 'evicted by the running daemon');
  const lazyA = await volume(a.ec2, zone, snapId);
  assert.ok((await a.daemon.cloud.store.read(lazyA, 7 * limits.ebsBlockBytes, data.length)).equals(data));
  const pending = await strata([
    'snapshot',
    'evict',
    'snap-0123456789abcdef0',
    '--data-dir',
    dataA,
    ...store,
  ]);
  assert.equal(pending.code, 1);
  assert.match(pending.stderr, /^strata snapshot evict: ArchiveError: no snapshot snap-0123456789abcdef0$/m);

  // A second daemon, fresh pool, same store: import while it runs, then CreateVolume restores the data.
  const b = await start(await tempDirectory('strata-verbs-b-'), archiveDir);
  const imported = await strata([
    'snapshot',
    'import-archive',
    snapId,
    '--data-dir',
    b.daemon.cloud.dataDir,
    ...store,
  ]);
  assert.equal(imported.code, 0, imported.stderr);
  const restoredB = await volume(b.ec2, zone, snapId);
  assert.ok((await b.daemon.cloud.store.read(restoredB, 7 * limits.ebsBlockBytes, data.length)).equals(data));

  // Evict on the stopped first daemon (the pool copy came back for lazyA); the next start brings it back
  // again on CreateVolume.
  await a.daemon.close();
  const evicted = await strata(['snapshot', 'evict', snapId, '--data-dir', dataA, ...store]);
  assert.equal(evicted.code, 0, evicted.stderr);
  const again = await start(dataA, archiveDir);
  assert.equal(again.daemon.cloud.store.device(snapId), undefined, 'evicted from the pool');
  const restoredA = await volume(again.ec2, zone, snapId);
  assert.ok(
    (await again.daemon.cloud.store.read(restoredA, 7 * limits.ebsBlockBytes, data.length)).equals(data),
  );

  // Damage one chunk at rest: verify names it and exits 1.
  const [shard] = await readdir(join(archiveDir, 'chunks'));
  assert.ok(shard !== undefined);
  const [file] = await readdir(join(archiveDir, 'chunks', shard));
  assert.ok(file !== undefined);
  const path = join(archiveDir, 'chunks', shard, file);
  const bytes = await readFile(path);
  bytes[100] = (bytes[100] ?? 0) ^ 0xff;
  await writeFile(path, bytes);
  const damaged = await strata(['snapshot', 'verify', snapId, ...store]);
  assert.equal(damaged.code, 1);
  assert.match(damaged.stdout, new RegExp(`DAMAGED.*1 corrupt[\\s\\S]*corrupt ${file}`));
});
