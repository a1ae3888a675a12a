// Deleting archived snapshots: shared chunks stay, unshared ones go, young ones wait for the grace.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { units } from '../base/limits.ts';
import { chunkKey, chunkPrefix, manifestKey } from './archive-format.ts';
import { archiveSnapshot } from './archiver.ts';
import { deleteArchivedSnapshot, sweepArchive } from './deletion.ts';
import { openDirStore } from './dir/dir-store.ts';
import { listArchivedSnapshots, restoreSnapshot, verifySnapshot } from './restorer.ts';
import { listAll } from './snapshot-store.ts';
import {
  assertSameBytes,
  randomBuffer,
  scatterWrites,
  seededRandom,
  tempDir,
  tempPool,
} from './testing/pools.ts';

const seed = Number(process.env.STRATA_TEST_SEED ?? Date.now() % 1_000_000);
console.log(`deletion.test.ts seed ${seed} (replay with STRATA_TEST_SEED=${seed})`);
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('deleting an archived snapshot keeps shared chunks and removes unshared ones', async () => {
  const random = seededRandom(seed);
  const pool = await tempPool();
  cleanups.push(pool.dispose);
  const dir = await tempDir('strata-archive-delete-');
  cleanups.push(dir.dispose);
  const target = await openDirStore(dir.path);
  const { store } = pool;
  await store.createVolume('vol-d', 32 * units.MiB);
  await scatterWrites(store, 'vol-d', random, 12, 256 * units.KiB);
  await store.snapshot('vol-d', 'snap-old');
  const old = await archiveSnapshot({ store, snapshotId: 'snap-old', target });
  await scatterWrites(store, 'vol-d', random, 3, 128 * units.KiB);
  // Overwrite part of one archived chunk so that the old snapshot surely has an unshared chunk.
  const [firstIndex] = old.manifest.chunks[0] ?? [];
  assert.ok(firstIndex !== undefined);
  await store.write('vol-d', firstIndex * old.manifest.chunkBytes, randomBuffer(random, 4096));
  await store.snapshot('vol-d', 'snap-new');
  const young = await archiveSnapshot({
    store,
    snapshotId: 'snap-new',
    parentSnapshotId: 'snap-old',
    target,
  });
  const oldHashes = new Set(old.manifest.chunks.map(([, hash]) => hash));
  const newHashes = new Set(young.manifest.chunks.map(([, hash]) => hash));
  const shared = [...oldHashes].filter((hash) => newHashes.has(hash));
  const unshared = [...oldHashes].filter((hash) => !newHashes.has(hash));
  assert.ok(shared.length > 0 && unshared.length > 0, 'the fixture has both kinds');

  // Within the grace nothing goes: an archive in flight could still need an unreferenced chunk.
  const graced = await deleteArchivedSnapshot({ target, snapshotId: 'snap-old' });
  assert.deepEqual([graced.chunksDeleted, graced.chunksYoung], [0, unshared.length]);
  assert.deepEqual(await listArchivedSnapshots(target), ['snap-new']);

  const swept = await sweepArchive({ target, sweepGraceMs: 0 });
  assert.equal(swept.chunksDeleted, unshared.length);
  for (const hash of unshared)
    assert.equal(await target.head(chunkKey(hash)), undefined, `unshared ${hash} removed`);
  for (const hash of shared)
    assert.notEqual(await target.head(chunkKey(hash)), undefined, `shared ${hash} kept`);
  assert.equal((await verifySnapshot({ source: target, snapshotId: 'snap-new' })).ok, true);
  const other = await tempPool();
  cleanups.push(other.dispose);
  await restoreSnapshot({ source: target, snapshotId: 'snap-new', store: other.store, volumeId: 'vol-back' });
  await assertSameBytes(store, 'snap-new', other.store, 'vol-back');

  // Deleting the last snapshot empties the archive.
  await deleteArchivedSnapshot({ target, snapshotId: 'snap-new', sweepGraceMs: 0 });
  assert.equal(await target.head(manifestKey('snap-new')), undefined);
  const left: string[] = [];
  for await (const object of listAll(target, chunkPrefix)) left.push(object.key);
  assert.deepEqual(left, []);
});
