// The archive end to end: incremental archive of a sparse 1 GiB volume, restore into a fresh pool,
// and the same round trip over S3 (s3rver on 127.0.0.1).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { limits, units } from '../base/limits.ts';
import { chunkPrefix } from './archive-format.ts';
import { archiveSnapshot, type ArchiveProgress } from './archiver.ts';
import { openDirStore } from './dir/dir-store.ts';
import { restoreSnapshot, verifySnapshot } from './restorer.ts';
import { openS3Store } from './s3/s3-store.ts';
import { listAll, type SnapshotStore } from './snapshot-store.ts';
import { FaultStore } from './testing/fault-store.ts';
import {
  assertSameBytes,
  randomBuffer,
  scatterWrites,
  seededRandom,
  tempDir,
  tempPool,
} from './testing/pools.ts';
import { startTestS3Server } from './testing/s3-server.ts';

const seed = Number(process.env.STRATA_TEST_SEED ?? Date.now() % 1_000_000);
console.log(`archive.test.ts seed ${seed} (replay with STRATA_TEST_SEED=${seed})`);
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Distinct chunk indices the byte ranges touch. */
function chunksOf(ranges: { offset: number; length: number }[]): Set<number> {
  const chunks = new Set<number>();
  for (const { offset, length } of ranges) {
    for (
      let index = Math.floor(offset / limits.ebsBlockBytes);
      index * limits.ebsBlockBytes < offset + length;
      index++
    )
      chunks.add(index);
  }
  return chunks;
}

async function countChunks(store: SnapshotStore): Promise<number> {
  let count = 0;
  for await (const object of listAll(store, chunkPrefix)) if (object.key.startsWith(chunkPrefix)) count++;
  return count;
}

test('incremental archive of a 1 GiB volume moves only changed chunks; restore into a fresh pool is byte-identical', async () => {
  const random = seededRandom(seed);
  const pool = await tempPool();
  cleanups.push(pool.dispose);
  const archiveDir = await tempDir('strata-archive-dir-');
  cleanups.push(archiveDir.dispose);
  const target = new FaultStore(await openDirStore(archiveDir.path), {});
  const { store } = pool;
  await store.createVolume('vol-a', units.GiB);
  const base = await scatterWrites(store, 'vol-a', random, 40, 256 * units.KiB);
  // One chunk's content written twice at chunk-aligned places: stored once.
  const twin = randomBuffer(random, limits.ebsBlockBytes);
  await store.write('vol-a', 100 * limits.ebsBlockBytes, twin);
  await store.write('vol-a', 1500 * limits.ebsBlockBytes, twin);
  await store.snapshot('vol-a', 'snap-1');
  const progress: ArchiveProgress[] = [];
  const full = await archiveSnapshot({
    store,
    snapshotId: 'snap-1',
    target,
    onProgress: (p) => progress.push(p),
  });
  const baseChunks = chunksOf([
    ...base,
    { offset: 100 * limits.ebsBlockBytes, length: 1 },
    { offset: 1500 * limits.ebsBlockBytes, length: 1 },
  ]);
  assert.equal(full.manifest.chunks.length, baseChunks.size);
  assert.equal(full.chunksUploaded, full.manifest.chunks.length - 1, 'the twin chunk is stored once');
  assert.equal(target.counts.putsWritten, full.chunksUploaded + 1, 'chunks plus the manifest');
  assert.deepEqual(progress.at(-1), {
    doneBytes: progress.at(-1)?.totalBytes,
    totalBytes: baseChunks.size * limits.ebsBlockBytes,
    uploadedBytes: full.bytesUploaded,
  });
  assert.ok(
    progress.every((p, i) => i === 0 || p.doneBytes > (progress[i - 1]?.doneBytes ?? 0)),
    'progress only grows',
  );

  // Change 1% of the volume (~10 MiB in 160 scattered 64 KiB writes).
  const changes = await scatterWrites(store, 'vol-a', random, 160, 64 * units.KiB);
  await store.snapshot('vol-a', 'snap-2');
  const putsBefore = target.counts.putsWritten;
  const incremental = await archiveSnapshot({
    store,
    snapshotId: 'snap-2',
    parentSnapshotId: 'snap-1',
    target,
  });
  const changed = chunksOf(changes);
  assert.equal(incremental.chunksExamined, changed.size, 'only chunks the pool diff names are read');
  assert.equal(incremental.chunksUploaded, changed.size, 'random new data: every changed chunk is new');
  assert.equal(
    target.counts.putsWritten - putsBefore,
    changed.size + 1,
    'only changed chunks (and the manifest) move',
  );
  assert.equal(incremental.manifest.parentSnapshotId, 'snap-1');
  assert.equal((await archiveSnapshot({ store, snapshotId: 'snap-2', target })).alreadyArchived, true);

  // A fresh pool, on "another host", from the archive alone.
  const other = await tempPool();
  cleanups.push(other.dispose);
  const source = await openDirStore(archiveDir.path);
  await restoreSnapshot({ source, snapshotId: 'snap-2', store: other.store, volumeId: 'vol-r2' });
  await restoreSnapshot({ source, snapshotId: 'snap-1', store: other.store, volumeId: 'vol-r1' });
  await assertSameBytes(store, 'snap-2', other.store, 'vol-r2');
  await assertSameBytes(store, 'snap-1', other.store, 'vol-r1');
  const report = await verifySnapshot({ source, snapshotId: 'snap-2' });
  assert.equal(report.ok, true);
  assert.equal(report.chunksChecked, new Set(incremental.manifest.chunks.map(([, hash]) => hash)).size);
});

test('s3 backend: archive, incremental archive and restore through a real S3-protocol server', async () => {
  const random = seededRandom(seed + 1);
  const server = await startTestS3Server();
  cleanups.push(server.stop);
  const target = openS3Store({
    endpoint: server.endpoint,
    bucket: server.bucket,
    prefix: 'host-a/',
    credentials: server.credentials,
  });
  cleanups.push(() => target.close());
  const pool = await tempPool();
  cleanups.push(pool.dispose);
  const { store } = pool;
  await store.createVolume('vol-s', 64 * units.MiB);
  await scatterWrites(store, 'vol-s', random, 12, 300 * units.KiB);
  await store.snapshot('vol-s', 'snap-s1');
  await archiveSnapshot({ store, snapshotId: 'snap-s1', target });
  await scatterWrites(store, 'vol-s', random, 3, 4 * units.KiB);
  await store.trim('vol-s', 0, 4 * units.MiB); // some chunks become zero: the manifest must drop them
  await store.snapshot('vol-s', 'snap-s2');
  const incremental = await archiveSnapshot({
    store,
    snapshotId: 'snap-s2',
    parentSnapshotId: 'snap-s1',
    target,
  });
  assert.ok(incremental.chunksExamined < (64 * units.MiB) / limits.ebsBlockBytes);
  assert.equal((await countChunks(target)) >= incremental.manifest.chunks.length, true);
  const other = await tempPool();
  cleanups.push(other.dispose);
  await restoreSnapshot({ source: target, snapshotId: 'snap-s2', store: other.store, volumeId: 'vol-r' });
  await assertSameBytes(store, 'snap-s2', other.store, 'vol-r');
});
