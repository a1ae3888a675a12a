// The face cloud uses (Archive): archive, manifest, verify, restore, openLazy and delete on one store, and
// cancel stopping every later operation with ECANCELED.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { units } from '../base/limits.ts';
import { silentLogger } from '../base/log.ts';
import { openDirStore } from './dir/dir-store.ts';
import type { BlockStore } from '../storage/block-store.ts';
import { Archive, type ArchiveProgress } from './objectstore.ts';
import { ArchiveError, type SnapshotStore } from './snapshot-store.ts';
import { assertSameBytes, scatterWrites, seededRandom, tempDir, tempPool } from './testing/pools.ts';

const seed = Number(process.env.STRATA_TEST_SEED ?? Date.now() % 1_000_000);
console.log(`objectstore.test.ts seed ${seed} (replay with STRATA_TEST_SEED=${seed})`);
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function fixture(): Promise<{ target: SnapshotStore; source: BlockStore; destination: BlockStore }> {
  const dir = await tempDir('strata-face-');
  const target = await openDirStore(dir.path);
  const [source, destination] = [await tempPool(), await tempPool()];
  cleanups.push(dir.dispose, () => target.close(), source.dispose, destination.dispose);
  return { target, source: source.store, destination: destination.store };
}

test('archive, manifest, verify, restore elsewhere, read through lazily, delete', async () => {
  const { target, source, destination } = await fixture();
  const archive = new Archive(target, { sweepGraceMs: 60_000, retryDeadlineMs: 5_000 });
  const random = seededRandom(seed);
  await source.createVolume('vol-00000000000000001', 8 * units.MiB);
  await scatterWrites(source, 'vol-00000000000000001', random, 24, 64 * units.KiB);
  await source.snapshot('vol-00000000000000001', 'snap-00000000000000001');
  let last: ArchiveProgress | undefined;
  const result = await archive.archive(source, 'snap-00000000000000001', {
    onProgress: (progress) => void (last = progress),
  });
  assert.equal(result.alreadyArchived, false);
  assert.ok(result.chunksUploaded > 0, `seed ${seed}: chunks were sent`);
  assert.ok(last !== undefined && last.doneBytes === last.totalBytes, 'progress reached the total');
  assert.deepEqual(await archive.snapshotIds(), ['snap-00000000000000001']);
  assert.deepEqual((await archive.manifest('snap-00000000000000001')).chunks, result.manifest.chunks);
  assert.equal((await archive.verify('snap-00000000000000001')).ok, true);
  assert.equal((await archive.archive(source, 'snap-00000000000000001')).alreadyArchived, true);

  await archive.restore(destination, 'snap-00000000000000001', 'vol-00000000000000002');
  await assertSameBytes(source, 'snap-00000000000000001', destination, 'vol-00000000000000002');

  const records = await tempDir('strata-face-lazy-');
  cleanups.push(records.dispose);
  const lazyPool = await tempPool();
  cleanups.push(() => rm(lazyPool.dir, { recursive: true, force: true }));
  const lazy = await archive.openLazy(lazyPool.store, {
    recordsPath: join(records.path, 'lazy-restore.json'),
    logger: silentLogger,
  });
  try {
    await lazy.adoptArchived('snap-00000000000000001');
    await assertSameBytes(source, 'snap-00000000000000001', lazy, 'snap-00000000000000001');
  } finally {
    await lazy.close(); // closes the pool under it too
  }

  // The tuning reaches deletion: within the grace the chunks stay; a zero grace sweeps them.
  const young = await archive.delete('snap-00000000000000001');
  assert.deepEqual([young.manifests, young.chunksDeleted], [0, 0]);
  assert.equal(young.chunksYoung, result.chunksUploaded);
  assert.deepEqual(await archive.snapshotIds(), []);
  const swept = await new Archive(target, { sweepGraceMs: 0 }).delete('snap-00000000000000001');
  assert.deepEqual([swept.chunksDeleted, swept.chunksYoung], [result.chunksUploaded, 0]);
});

test('cancel: every later operation fails with ECANCELED; the store itself stays open', async () => {
  const { target, source: store } = await fixture();
  const archive = new Archive(target);
  await store.createVolume('vol-00000000000000003', units.MiB);
  await store.write('vol-00000000000000003', 0, Buffer.alloc(4096, 7));
  await store.snapshot('vol-00000000000000003', 'snap-00000000000000003');
  await archive.archive(store, 'snap-00000000000000003');
  archive.cancel();
  const canceled = (error: unknown): boolean => error instanceof ArchiveError && error.code === 'ECANCELED';
  await assert.rejects(archive.manifest('snap-00000000000000003'), canceled);
  await assert.rejects(archive.verify('snap-00000000000000003'), canceled);
  await assert.rejects(archive.delete('snap-00000000000000003'), canceled);
  assert.match(archive.description, /^dir:/);
  assert.equal(
    (await new Archive(target).manifest('snap-00000000000000003')).snapshotId,
    'snap-00000000000000003',
  );
});
