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
  type EC2Client,
  type Snapshot,
} from '@aws-sdk/client-ec2';
import {
  CompleteSnapshotCommand,
  EBSClient,
  PutSnapshotBlockCommand,
  StartSnapshotCommand,
} from '@aws-sdk/client-ebs';
import { createHash } from 'node:crypto';
import { limits, units } from '../base/limits.ts';
import { startTestDaemon, type TestDaemon } from '../api/testing/test-daemon.ts';
import { chunkPrefix } from '../objectstore/archive-format.ts';
import { openDirStore } from '../objectstore/dir/dir-store.ts';
import { listArchivedSnapshots } from '../objectstore/restorer.ts';
import { listAll, type SnapshotStore } from '../objectstore/snapshot-store.ts';
import { FaultStore } from '../objectstore/testing/fault-store.ts';
import { randomBuffer, seededRandom, tempDir } from '../objectstore/testing/pools.ts';
import { startTestS3Server } from '../objectstore/testing/s3-server.ts';

const seed = Number(process.env.STRATA_TEST_SEED ?? Date.now() % 1_000_000);
console.log(`snapshot-archive.test.ts seed ${seed} (replay with STRATA_TEST_SEED=${seed})`);
const random = seededRandom(seed);
const chunk = limits.ebsBlockBytes;
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

test('a restart during a restore from the archive leaves the volume creating; the next start finishes it', async () => {
  const archive = await archiveDir();
  const slow = new FaultStore(archive.store, { delayMs: 60 });
  const strata = await daemonWith({ snapshotStore: slow });
  const ec2 = strata.ec2();
  const volumeId = await newVolume(strata);
  const written = await writeChunks(strata, volumeId, 24);
  const snapId = await snapshot(strata, volumeId);
  assert.equal((await settled(ec2, snapId)).State, 'completed');
  await strata.cloud.ebs.archive?.evict(snapId);
  const getsBefore = slow.counts.gets;
  const { VolumeId: restoring } = await ec2.send(
    new CreateVolumeCommand({ AvailabilityZone: `${strata.region}a`, SnapshotId: snapId }),
  );
  assert.ok(restoring !== undefined);
  await until('the restore reads chunks', () =>
    Promise.resolve(slow.counts.gets >= getsBefore + 4 ? true : undefined),
  );
  await strata.restart();
  const { Volumes } = await strata.ec2().send(new DescribeVolumesCommand({ VolumeIds: [restoring] }));
  assert.notEqual(Volumes?.[0]?.State, 'error', 'not failed by the shutdown');
  await until(`${restoring} available`, async () => {
    const { Volumes: now } = await strata.ec2().send(new DescribeVolumesCommand({ VolumeIds: [restoring] }));
    return now?.[0]?.State === 'available' ? true : undefined;
  });
  await assertHolds(strata, restoring, written);
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
