// The archive wired into the daemon, driven through the EC2 SDK: pending with true Progress → completed when
// the manifest is durable, incremental parents, error + StateMessage on a dead store, resume after a restart,
// DeleteSnapshot removing the archived copy, verify, evict + restore, import into a fresh pool, and S3.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateSnapshotCommand,
  CreateVolumeCommand,
  DeleteSnapshotCommand,
  DescribeSnapshotsCommand,
  CopySnapshotCommand,
  DescribeVolumesCommand,
  DescribeInstancesCommand,
  EnableFastSnapshotRestoresCommand,
  RunInstancesCommand,
  type EC2Client,
  type Snapshot,
} from '@aws-sdk/client-ec2';
import {
  CompleteSnapshotCommand,
  EBSClient,
  GetSnapshotBlockCommand,
  ListSnapshotBlocksCommand,
  PutSnapshotBlockCommand,
  StartSnapshotCommand,
} from '@aws-sdk/client-ebs';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { limits, units } from '../../base/limits.ts';
import { registerImage } from '../../api/ec2/actions/compute-test-helpers.ts';
import { startTestDaemon, type TestDaemon } from '../../api/testing/test-daemon.ts';
import { chunkPrefix } from '../../objectstore/archive-format.ts';
import { openDirStore } from '../../objectstore/dir/dir-store.ts';
import { LazyRestoreStore } from '../../objectstore/lazy-restore/lazy-store.ts';
import { listArchivedSnapshots } from '../../objectstore/restorer.ts';
import { listAll, type SnapshotStore } from '../../objectstore/snapshot-store.ts';
import { FaultStore } from '../../objectstore/testing/fault-store.ts';
import { randomBuffer, seededRandom, tempDir } from '../../objectstore/testing/pools.ts';
import { startTestS3Server } from '../../objectstore/testing/s3-server.ts';

const seed = Number(process.env.STRATA_TEST_SEED ?? Date.now() % 1_000_000);
console.log(`snapshot-archive.test.ts seed ${seed} (replay with STRATA_TEST_SEED=${seed})`);
const random = seededRandom(seed);
const chunk = limits.ebsBlockBytes;
const execFileAsync = promisify(execFile);
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function archiveDir(): Promise<{ path: string; store: SnapshotStore }> {
  const dir = await tempDir('strata-archive-store-');
  const store = await openDirStore(dir.path);
  cleanups.push(async () => {
    await store.close();
    await dir.dispose();
  });
  return { path: dir.path, store };
}

async function daemonWith(options: Parameters<typeof startTestDaemon>[0]): Promise<TestDaemon> {
  const strata = await startTestDaemon(options);
  cleanups.push(() => strata.close());
  return strata;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function describeSnapshot(ec2: EC2Client, snapshotId: string): Promise<Snapshot> {
  const { Snapshots } = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }));
  const [snapshot] = Snapshots ?? [];
  assert.ok(snapshot !== undefined, `${snapshotId} described`);
  return snapshot;
}

async function settled(ec2: EC2Client, snapshotId: string): Promise<Snapshot> {
  return until(`${snapshotId} to settle`, async () => {
    const snapshot = await describeSnapshot(ec2, snapshotId);
    return snapshot.State === 'pending' ? undefined : snapshot;
  });
}

async function newVolume(strata: TestDaemon, snapshotId?: string): Promise<string> {
  const ec2 = strata.ec2();
  const { VolumeId } = await ec2.send(
    new CreateVolumeCommand({
      AvailabilityZone: `${strata.region}a`,
      ...(snapshotId !== undefined ? { SnapshotId: snapshotId } : { Size: 1 }),
    }),
  );
  assert.ok(VolumeId !== undefined);
  await until(`${VolumeId} available`, async () => {
    const { Volumes } = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [VolumeId] }));
    const state = Volumes?.[0]?.State;
    assert.notEqual(state, 'error', `${VolumeId} failed`);
    return state === 'available' ? true : undefined;
  });
  return VolumeId;
}

/** Writes `count` random chunks at distinct chunk indices; returns what was written where. */
async function writeChunks(
  strata: TestDaemon,
  volumeId: string,
  count: number,
): Promise<Map<number, Buffer>> {
  const written = new Map<number, Buffer>();
  const chunks = units.GiB / chunk;
  while (written.size < count) {
    const index = Math.floor(random() * chunks);
    const data = randomBuffer(random, chunk);
    await strata.cloud.store.write(volumeId, index * chunk, data);
    written.set(index, data);
  }
  return written;
}

async function assertHolds(
  strata: TestDaemon,
  volumeId: string,
  expected: Map<number, Buffer>,
): Promise<void> {
  for (const [index, data] of expected) {
    const read = await strata.cloud.store.read(volumeId, index * chunk, chunk);
    assert.ok(read.equals(data), `chunk ${index} of ${volumeId} restored`);
  }
}

async function snapshot(strata: TestDaemon, volumeId: string): Promise<string> {
  const created = await strata.ec2().send(new CreateSnapshotCommand({ VolumeId: volumeId }));
  assert.equal(created.State, 'pending');
  assert.ok(created.SnapshotId !== undefined);
  return created.SnapshotId;
}

/** A volume with `count` random chunks, snapshotted, archived and evicted from the pool. */
async function evictedSnapshot(
  strata: TestDaemon,
  count: number,
): Promise<{ snapId: string; written: Map<number, Buffer> }> {
  const volumeId = await newVolume(strata);
  const written = await writeChunks(strata, volumeId, count);
  const snapId = await snapshot(strata, volumeId);
  assert.equal((await settled(strata.ec2(), snapId)).State, 'completed');
  await strata.cloud.ebs.archive?.evict(snapId);
  assert.equal(strata.cloud.store.device(snapId), undefined, 'evicted');
  return { snapId, written };
}

test('a snapshot stays pending with true Progress until archived; incremental; verify, evict, restore, delete', async () => {
  const archive = await archiveDir();
  // Slow enough (2 store calls per chunk, 8 in flight) that DescribeSnapshots sees the upload progress.
  const slow = new FaultStore(archive.store, { delayMs: 40 });
  // A short GC grace, so DeleteSnapshot's sweep can remove chunks within the test (an archive must finish
  // within half of it).
  const graceMs = 6000;
  const strata = await daemonWith({ snapshotStore: slow, snapshotArchive: { sweepGraceMs: graceMs } });
  const ec2 = strata.ec2();
  const volumeId = await newVolume(strata);
  const first = await writeChunks(strata, volumeId, 48);
  const snap1 = await snapshot(strata, volumeId);
  const seen = new Set<string>();
  const done = await until('snap1 completed', async () => {
    const described = await describeSnapshot(ec2, snap1);
    seen.add(`${described.State} ${described.Progress}`);
    return described.State === 'pending' ? undefined : described;
  });
  assert.equal(done.State, 'completed', done.StateMessage);
  assert.equal(done.Progress, '100%');
  const midway = [...seen].filter((s) => /^pending ([1-9]|[1-9][0-9])%$/.test(s));
  assert.ok(midway.length > 0, `a pending Progress between 0 and 100% was seen: ${[...seen].join(', ')}`);
  assert.deepEqual(await listArchivedSnapshots(archive.store), [snap1]);
  assert.equal(strata.cloud.ebs.archive?.description, slow.description);

  // Incremental: one changed chunk → one chunk upload and the manifest.
  const putsBefore = slow.counts.putsWritten;
  const second = await writeChunks(strata, volumeId, 1);
  const snap2 = await snapshot(strata, volumeId);
  const snap2Done = await settled(ec2, snap2);
  assert.equal(snap2Done.State, 'completed', snap2Done.StateMessage);
  const snap2DoneMs = Date.now();
  assert.equal(slow.counts.putsWritten - putsBefore, 2, 'one chunk and one manifest written');

  const report = await strata.cloud.ebs.archive?.verify(snap1);
  assert.equal(report?.ok, true);
  assert.equal(report?.chunksChecked, 48);

  // Evict the pool copy; CreateVolume restores it from the archive before the volume is available.
  await strata.cloud.ebs.archive?.evict(snap1);
  assert.equal(strata.cloud.store.device(snap1), undefined);
  const restored = await newVolume(strata, snap1);
  await assertHolds(strata, restored, first);
  assert.equal(strata.cloud.store.device(snap1)?.kind, 'snapshot', 'the snapshot is back in the pool');

  // DeleteSnapshot removes the manifest and, past the grace, the chunks only it used.
  await new Promise((resolve) => setTimeout(resolve, snap2DoneMs + graceMs + 100 - Date.now()));
  const chunksBefore = await countChunks(archive.store);
  await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snap2 }));
  assert.deepEqual(await listArchivedSnapshots(archive.store), [snap1]);
  assert.equal(await countChunks(archive.store), chunksBefore - second.size);
  await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snap1 }));
  assert.deepEqual(await listArchivedSnapshots(archive.store), []);
  assert.equal(await countChunks(archive.store), 0);
});

async function countChunks(store: SnapshotStore): Promise<number> {
  let count = 0;
  for await (const object of listAll(store, chunkPrefix)) if (object.key !== '') count++;
  return count;
}

test('a store that stays down makes the snapshot error with a StateMessage, within the retry deadline', async () => {
  const archive = await archiveDir();
  const down = new FaultStore(archive.store, { errorRate: 1 });
  const strata = await daemonWith({ snapshotStore: down, snapshotArchive: { retryDeadlineMs: 300 } });
  const volumeId = await newVolume(strata);
  await writeChunks(strata, volumeId, 2);
  const started = Date.now();
  const snapId = await snapshot(strata, volumeId);
  const failed = await settled(strata.ec2(), snapId);
  assert.equal(failed.State, 'error');
  assert.match(failed.StateMessage ?? '', /failed after \d+ attempts in \d+ ms: injected fault/);
  assert.ok(Date.now() - started < 10_000, 'failed in bounded time');
  assert.ok(down.counts.injectedErrors > 1, 'it retried');
});

test('a daemon restart mid-upload resumes the archive, sending only what is missing', async () => {
  const archive = await archiveDir();
  const slow = new FaultStore(archive.store, { delayMs: 60 });
  const strata = await daemonWith({ snapshotStore: slow });
  const volumeId = await newVolume(strata);
  const written = await writeChunks(strata, volumeId, 40);
  const snapId = await snapshot(strata, volumeId);
  await until('some chunks uploaded', () => Promise.resolve(slow.counts.putsWritten >= 8 ? true : undefined));
  await strata.restart();
  const uploadedBeforeRestart = slow.counts.putsWritten;
  assert.ok(uploadedBeforeRestart < written.size, 'stopped mid-upload');
  const done = await settled(strata.ec2(), snapId);
  assert.equal(done.State, 'completed');
  assert.deepEqual(await listArchivedSnapshots(archive.store), [snapId]);
  // Every chunk went up exactly once across the two runs, plus the manifest.
  assert.equal(slow.counts.putsWritten, written.size + 1);
  assert.equal((await strata.cloud.ebs.archive?.verify(snapId))?.ok, true);
});

test('after evict, CreateVolume is available before the data arrives; reads, EBS direct and hydration fetch it', async () => {
  const archive = await archiveDir();
  const slow = new FaultStore(archive.store, { delayMs: 40 });
  // A crawl (1 byte/s): the background hydrator fetches nothing until the end lifts the limit.
  const strata = await daemonWith({
    snapshotStore: slow,
    snapshotArchive: { hydrationBytesPerSecond: 1 },
  });
  const { snapId, written } = await evictedSnapshot(strata, 24);
  const getsBefore = slow.counts.gets;
  const lazy = await newVolume(strata, snapId);
  const fetchedWhenAvailable = slow.counts.gets - getsBefore;
  assert.equal(fetchedWhenAvailable, 1, 'available after reading the manifest alone, no chunk');
  const [index, data] = [...written][written.size - 1]!;
  const read = await strata.cloud.store.read(lazy, index * chunk, chunk);
  assert.ok(read.equals(data), 'an unfetched chunk reads through');

  // The EBS direct API reads the evicted snapshot too (it comes back reading through).
  const ebs = new EBSClient({ endpoint: strata.endpoint, region: strata.region, credentials: strata.admin });
  cleanups.push(() => Promise.resolve(ebs.destroy()));
  await strata.cloud.ebs.archive?.evict(snapId).catch(() => undefined);
  const listed = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: snapId }));
  const blocks = listed.Blocks ?? [];
  assert.deepEqual(
    blocks.map((block) => block.BlockIndex),
    [...written.keys()].sort((a, b) => a - b),
  );
  const block = await ebs.send(
    new GetSnapshotBlockCommand({
      SnapshotId: snapId,
      BlockIndex: index,
      BlockToken: blocks.find((b) => b.BlockIndex === index)?.BlockToken,
    }),
  );
  assert.ok(
    Buffer.from(await block.BlockData!.transformToByteArray()).equals(data),
    'GetSnapshotBlock reads through',
  );

  // A real NBD client copies a second, unfetched volume out whole: every archived chunk arrives.
  const copied = await newVolume(strata, snapId);
  const out = await tempDir('strata-lazy-nbdcopy-');
  cleanups.push(out.dispose);
  const file = join(out.path, 'copy.raw');
  // Asynchronously: the NBD server runs in this process.
  await execFileAsync('nbdcopy', [`nbd+unix:///${copied}?socket=${strata.dataDir}/nbd.sock`, file]);
  const image = await readFile(file);
  assert.equal(image.length, units.GiB);
  for (const [at, bytes] of written) {
    assert.ok(image.subarray(at * chunk, (at + 1) * chunk).equals(bytes), `chunk ${at} through NBD`);
  }

  // The hydrator, unthrottled, finishes the volume; then it no longer depends on the archive.
  assert.ok(isLazy(strata, lazy), 'still lazy before');
  const store = strata.cloud.store;
  assert.ok(store instanceof LazyRestoreStore);
  await store.hydrated(lazy, { unthrottled: true });
  assert.equal(isLazy(strata, lazy), false, 'hydrated');
  slow.down = true;
  await assertHolds(strata, lazy, written);
});

function isLazy(strata: TestDaemon, volumeId: string): boolean {
  const store = strata.cloud.store;
  return store instanceof LazyRestoreStore && store.isLazy(volumeId);
}

test('with the store down, volumes keep serving I/O over NBD; only unfetched chunks fail, until it is back', async () => {
  const archive = await archiveDir();
  const flaky = new FaultStore(archive.store, {});
  const strata = await daemonWith({
    snapshotStore: flaky,
    // A crawl, so unfetched chunks stay unfetched; a short deadline, so failures come fast.
    snapshotArchive: { hydrationBytesPerSecond: 1, retryDeadlineMs: 300 },
  });
  const { snapId, written } = await evictedSnapshot(strata, 4);
  const lazy = await newVolume(strata, snapId);
  const [fetched, unfetched] = [...written.keys()] as [number, number];
  const fetchedData = written.get(fetched)!;
  const unfetchedData = written.get(unfetched)!;
  assert.ok((await strata.cloud.store.read(lazy, fetched * chunk, chunk)).equals(fetchedData));
  const uri = `nbd+unix:///${lazy}?socket=${strata.dataDir}/nbd.sock`;
  const qemuIo = async (...commands: string[]): Promise<string> => {
    const args = ['-f', 'raw', ...commands.flatMap((command) => ['-c', command]), uri];
    const { stdout, stderr } = await execFileAsync('qemu-io', args).catch(
      (error: { stdout: string; stderr: string }) => error,
    );
    return stdout + stderr;
  };

  flaky.down = true;
  // A snapshot of the lazy volume retries against the dead store, then errors; I/O goes on meanwhile.
  const pendingSnap = await snapshot(strata, lazy);
  const at = fetched * chunk + 8192;
  const io = await qemuIo(`write -P 0xcd ${at} 64k`, `read -P 0xcd ${at} 64k`, `read ${fetched * chunk} 4k`);
  assert.doesNotMatch(io, /error|fail/i, `local chunks serve while the store is down: ${io}`);
  const failed = await qemuIo(`read ${unfetched * chunk} 4k`);
  assert.match(failed, /Input\/output error/, 'an unfetched chunk fails with EIO, never wrong data');
  assert.equal((await settled(strata.ec2(), pendingSnap)).State, 'error');

  flaky.down = false;
  const back = await strata.cloud.store.read(lazy, unfetched * chunk, chunk);
  assert.ok(back.equals(unfetchedData), 'it reads once the store is back');
});

test('DeleteSnapshot while volumes still read through to it keeps its archived copy until they are hydrated', async () => {
  const archive = await archiveDir();
  // A crawl: the volume stays lazy until the test lifts the limit.
  const strata = await daemonWith({
    snapshotStore: archive.store,
    snapshotArchive: { hydrationBytesPerSecond: 1 },
  });
  const { snapId, written } = await evictedSnapshot(strata, 6);
  const lazy = await newVolume(strata, snapId);
  // A snapshot of the lazy volume, once archived, reads through to its own copy, not to snapId's.
  const child = await snapshot(strata, lazy);
  assert.equal((await settled(strata.ec2(), child)).State, 'completed');
  await strata.ec2().send(new DeleteSnapshotCommand({ SnapshotId: snapId }));
  const { Snapshots } = await strata.ec2().send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }));
  assert.ok(!(Snapshots ?? []).some((s) => s.SnapshotId === snapId), 'gone from DescribeSnapshots');
  const both = [snapId, child].sort();
  assert.deepEqual(await listArchivedSnapshots(archive.store), both, 'the archived copy stays');
  // A restart keeps it too (recover() sees the reader), and the volume still reads every byte.
  await strata.restart();
  assert.deepEqual(await listArchivedSnapshots(archive.store), both);
  await assertHolds(strata, lazy, written);
  // Hydrated, the volume needs the archive no more: the deletion completes.
  const store = strata.cloud.store;
  assert.ok(store instanceof LazyRestoreStore);
  await store.hydrated(lazy, { unthrottled: true });
  await until('the archived copy removed', async () =>
    (await listArchivedSnapshots(archive.store)).length === 1 ? true : undefined,
  );
  assert.deepEqual(await listArchivedSnapshots(archive.store), [child]);
  await until('the row gone', async () => {
    const row = await strata.cloud.db
      .selectFrom('snapshots')
      .select('id')
      .where('id', '=', snapId)
      .executeTakeFirst();
    return row === undefined ? true : undefined;
  });
  await assertHolds(strata, lazy, written);
  await assertHolds(strata, child, written);
});

test('with --fast-restore a restart mid-hydration leaves the volume creating; the next start finishes it', async () => {
  const archive = await archiveDir();
  const slow = new FaultStore(archive.store, { delayMs: 100 });
  const strata = await daemonWith({ snapshotStore: slow, snapshotArchive: { fastRestore: true } });
  const ec2 = strata.ec2();
  const { snapId, written } = await evictedSnapshot(strata, 24);
  const getsBefore = slow.counts.gets;
  const { VolumeId: restoring } = await ec2.send(
    new CreateVolumeCommand({ AvailabilityZone: `${strata.region}a`, SnapshotId: snapId }),
  );
  assert.ok(restoring !== undefined);
  await until('the hydration reads chunks', () =>
    Promise.resolve(slow.counts.gets >= getsBefore + 4 ? true : undefined),
  );
  const { Volumes: early } = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [restoring] }));
  assert.equal(early?.[0]?.State, 'creating', 'not available while chunks are missing');
  await strata.restart();
  const { Volumes } = await strata.ec2().send(new DescribeVolumesCommand({ VolumeIds: [restoring] }));
  assert.notEqual(Volumes?.[0]?.State, 'error', 'not failed by the shutdown');
  await until(`${restoring} available`, async () => {
    const { Volumes: now } = await strata.ec2().send(new DescribeVolumesCommand({ VolumeIds: [restoring] }));
    return now?.[0]?.State === 'available' ? true : undefined;
  });
  assert.equal(isLazy(strata, restoring), false, 'every chunk is local once available');
  await assertHolds(strata, restoring, written);
});

test('EnableFastSnapshotRestores maps to the eager restore: a volume of it is available only once local', async () => {
  const archive = await archiveDir();
  const slow = new FaultStore(archive.store, { delayMs: 100 });
  const strata = await daemonWith({ snapshotStore: slow });
  const ec2 = strata.ec2();
  const { snapId, written } = await evictedSnapshot(strata, 24);
  const zone = `${strata.region}a`;
  const enabled = await ec2.send(
    new EnableFastSnapshotRestoresCommand({ AvailabilityZones: [zone], SourceSnapshotIds: [snapId] }),
  );
  assert.equal(enabled.Successful?.[0]?.State, 'enabling');
  const { VolumeId: eager } = await ec2.send(
    new CreateVolumeCommand({ AvailabilityZone: zone, SnapshotId: snapId }),
  );
  assert.ok(eager !== undefined);
  await until(`${eager} available`, async () => {
    const { Volumes } = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [eager] }));
    return Volumes?.[0]?.State === 'available' ? true : undefined;
  });
  assert.equal(isLazy(strata, eager), false, 'every chunk is local once available');
  await assertHolds(strata, eager, written);
  // In another zone, without fast restore, the volume is available at once and fetches lazily.
  const { VolumeId: lazy } = await ec2.send(
    new CreateVolumeCommand({ AvailabilityZone: `${strata.region}b`, SnapshotId: snapId }),
  );
  await strata.cloud.ebs.idle();
  assert.equal(isLazy(strata, lazy!), true, 'no fast restore in that zone');
});

test('an image whose snapshot was evicted launches: RunInstances brings it back and the root volume reads it', async () => {
  const archive = await archiveDir();
  const strata = await daemonWith({ snapshotStore: archive.store });
  const ec2 = strata.ec2();
  const { snapId, written } = await evictedSnapshot(strata, 3);
  const imageId = await registerImage(ec2, snapId);
  const { Instances } = await ec2.send(
    new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1 }),
  );
  const instanceId = Instances?.[0]?.InstanceId;
  assert.ok(instanceId !== undefined);
  const root = await until('the instance running with its root volume', async () => {
    const { Reservations } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const instance = Reservations?.[0]?.Instances?.[0];
    assert.notEqual(instance?.State?.Name, 'terminated', instance?.StateReason?.Message);
    return instance?.State?.Name === 'running' ? instance.BlockDeviceMappings?.[0]?.Ebs?.VolumeId : undefined;
  });
  assert.ok(root !== undefined);
  await assertHolds(strata, root, written);
});

test('a second daemon with a fresh pool and the same dir: store imports and restores a snapshot', async () => {
  const archive = await archiveDir();
  const config = { kind: 'dir', path: archive.path } as const;
  const first = await daemonWith({ snapshotStore: config });
  const volumeId = await newVolume(first);
  const written = await writeChunks(first, volumeId, 6);
  const snapId = await snapshot(first, volumeId);
  assert.equal((await settled(first.ec2(), snapId)).State, 'completed');

  const second = await daemonWith({ snapshotStore: config });
  await second.cloud.ebs.archive?.importArchived(second.admin.accountId, snapId);
  const imported = await describeSnapshot(second.ec2(), snapId);
  assert.equal(imported.State, 'completed');
  assert.equal(imported.VolumeSize, 1);
  const restored = await newVolume(second, snapId);
  await assertHolds(second, restored, written);
});

test('EBS direct CompleteSnapshot and CopySnapshot archive too; a copy reuses the chunks of its source', async () => {
  const archive = await archiveDir();
  const counting = new FaultStore(archive.store, {});
  const strata = await daemonWith({ snapshotStore: counting });
  const ebs = new EBSClient({
    endpoint: strata.endpoint,
    region: strata.region,
    credentials: strata.admin,
    maxAttempts: 1,
  });
  cleanups.push(() => Promise.resolve(ebs.destroy()));
  const { SnapshotId: uploaded } = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
  assert.ok(uploaded !== undefined);
  for (const index of [3, 900]) {
    const data = randomBuffer(random, chunk);
    await ebs.send(
      new PutSnapshotBlockCommand({
        SnapshotId: uploaded,
        BlockIndex: index,
        BlockData: data,
        DataLength: chunk,
        Checksum: createHash('sha256').update(data).digest('base64'),
        ChecksumAlgorithm: 'SHA256',
      }),
    );
  }
  const completed = await ebs.send(
    new CompleteSnapshotCommand({ SnapshotId: uploaded, ChangedBlocksCount: 2 }),
  );
  assert.equal(completed.Status, 'pending', 'pending until archived');
  const ec2 = strata.ec2();
  assert.equal((await settled(ec2, uploaded)).State, 'completed');
  assert.deepEqual(await listArchivedSnapshots(archive.store), [uploaded]);
  assert.equal(counting.counts.putsWritten, 3, 'two chunks and the manifest');

  const { SnapshotId: copy } = await ec2.send(
    new CopySnapshotCommand({ SourceSnapshotId: uploaded, SourceRegion: strata.region }),
  );
  assert.ok(copy !== undefined);
  assert.equal((await settled(ec2, copy)).State, 'completed');
  assert.deepEqual(await listArchivedSnapshots(archive.store), [uploaded, copy].sort());
  assert.equal(counting.counts.putsWritten, 4, 'the copy wrote only its manifest');
});

test('the s3 backend (s3rver) archives and verifies through the daemon', async () => {
  const s3 = await startTestS3Server();
  cleanups.push(() => s3.stop());
  const strata = await daemonWith({
    snapshotStore: {
      kind: 's3',
      bucket: s3.bucket,
      prefix: 'strata/',
      settings: { endpoint: s3.endpoint, region: 'us-east-1', credentials: s3.credentials },
    },
  });
  const volumeId = await newVolume(strata);
  await writeChunks(strata, volumeId, 4);
  const snapId = await snapshot(strata, volumeId);
  assert.equal((await settled(strata.ec2(), snapId)).State, 'completed');
  const report = await strata.cloud.ebs.archive?.verify(snapId);
  assert.equal(report?.ok, true);
  assert.equal(report?.chunksChecked, 4);
});
