// Lazy restore against a reference model: a fresh pool reads an archived snapshot through, on demand and in
// the background, while it is written, trimmed, snapshotted, cloned, restarted and re-archived.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { units } from '../../base/limits.ts';
import { silentLogger } from '../../base/log.ts';
import type { BlockStore } from '../../storage/block-store.ts';
import { openBlockStore } from '../../storage/open-block-store.ts';
import { chunkKey } from '../archive-format.ts';
import { archiveSnapshot } from '../archiver.ts';
import { openDirStore } from '../dir/dir-store.ts';
import { chunkAt, readManifest, restoreScratchVolumeId, restoreSnapshot } from '../restorer.ts';
import { ArchiveError, type SnapshotStore } from '../snapshot-store.ts';
import { FaultStore } from '../testing/fault-store.ts';
import { randomBuffer, seededRandom, tempDir, tempPool } from '../testing/pools.ts';
import { openLazyRestoreStore, type LazyRestoreStore } from './lazy-store.ts';

const seed = Number(process.env.STRATA_TEST_SEED ?? Date.now() % 1_000_000);
console.log(`lazy-store.test.ts seed ${seed} (replay with STRATA_TEST_SEED=${seed})`);
const MiB = units.MiB;
const CHUNK = 512 * units.KiB;
const SIZE = 8 * MiB;
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** An archived golden snapshot: 16 chunks, some zero, some half written; returns its bytes. */
async function archivedGolden(random: () => number): Promise<{ archive: SnapshotStore; golden: Buffer }> {
  const pool = await tempPool();
  cleanups.push(pool.dispose);
  const dir = await tempDir('strata-lazy-archive-');
  cleanups.push(dir.dispose);
  const archive = await openDirStore(dir.path);
  await pool.store.createVolume('vol-golden', SIZE);
  for (let index = 0; index < SIZE / CHUNK; index++) {
    if (index % 4 === 3) continue; // zero chunks
    const half = index % 5 === 0;
    await pool.store.write('vol-golden', index * CHUNK, randomBuffer(random, half ? CHUNK / 2 : CHUNK));
  }
  await pool.store.snapshot('vol-golden', 'snap-golden');
  await archiveSnapshot({ store: pool.store, snapshotId: 'snap-golden', target: archive });
  return { archive, golden: await pool.store.read('snap-golden', 0, SIZE) };
}

/** A fresh pool in `dir` wrapped by a lazy-restore store over `archive`. */
async function openLazy(
  dir: string,
  archive: SnapshotStore,
  hydrationBytesPerSecond: number,
): Promise<LazyRestoreStore> {
  const inner = await openBlockStore({ dir: join(dir, 'pool'), capacityBytes: units.GiB });
  return openLazyRestoreStore({
    inner,
    source: archive,
    recordsPath: join(dir, 'lazy-restore.json'),
    logger: silentLogger,
    hydrationBytesPerSecond,
    retryDeadlineMs: 200,
  });
}

async function freshLazy(
  archive: SnapshotStore,
  rate: number,
): Promise<{ dir: string; store: LazyRestoreStore }> {
  const dir = await tempDir('strata-lazy-pool-');
  cleanups.push(dir.dispose);
  const store = await openLazy(dir.path, archive, rate);
  return { dir: dir.path, store };
}

/** Every byte the model holds non-zero lies in a range mapRange reports allocated. */
function assertMapCoversData(store: BlockStore, id: string, model: Buffer): void {
  const ranges = store.mapRange(id, 0, model.length);
  assert.equal(
    ranges.reduce((sum, range) => sum + range.length, 0),
    model.length,
    'mapRange covers the device',
  );
  for (const range of ranges) {
    if (range.allocated) continue;
    const hole = model.subarray(range.offset, range.offset + range.length);
    assert.ok(
      hole.every((byte) => byte === 0),
      `${id}: data in a reported hole at ${range.offset}`,
    );
  }
}

test('a volume from an archived snapshot reads at once, fetching only what is read, then hydrates', async () => {
  const random = seededRandom(seed);
  const { archive, golden } = await archivedGolden(random);
  const counted = new FaultStore(archive, {});
  const store = await openTracked(counted, 1); // a crawl: hydration stays out of the way
  await store.adoptArchived('snap-golden');
  assert.equal(store.device('snap-golden')?.kind, 'snapshot');
  assert.equal(store.usage().usedBytes, 0, 'adopting fetches and stores nothing');
  await store.clone('snap-golden', 'vol-lazy');
  const getsBefore = counted.counts.gets;
  const piece = await store.read('vol-lazy', 5 * CHUNK + 4096, 4096);
  assert.ok(piece.equals(golden.subarray(5 * CHUNK + 4096, 5 * CHUNK + 8192)));
  assert.ok(counted.counts.gets - getsBefore <= 2, 'one chunk fetched (hydration may have taken one)');
  assertMapCoversData(store, 'vol-lazy', golden);
  assertMapCoversData(store, 'snap-golden', golden);
  assert.ok((await store.read('snap-golden', 0, SIZE)).equals(golden), 'the adopted snapshot reads through');
  assert.ok((await store.read('vol-lazy', 0, SIZE)).equals(golden), 'the volume reads through');
  await store.close();
  // With a rate again, a restart resumes and finishes the hydration; then the volume is ordinary.
  const reopened = await freshLazyReopen(store, counted);
  await reopened.hydrated('vol-lazy');
  assert.equal(reopened.isLazy('vol-lazy'), false);
  assert.ok((await reopened.read('vol-lazy', 0, SIZE)).equals(golden));
  const records = JSON.parse(await readFile(recordsOf(reopened), 'utf8')) as { devices: object };
  assert.deepEqual(Object.keys(records.devices), ['snap-golden'], 'only the adopted snapshot stays lazy');
  await reopened.close();
});

// Reopen helpers: tests keep the dir of each store.
const dirs = new WeakMap<LazyRestoreStore, string>();
function recordsOf(store: LazyRestoreStore): string {
  return join(dirs.get(store)!, 'lazy-restore.json');
}
async function freshLazyReopen(closed: LazyRestoreStore, archive: SnapshotStore): Promise<LazyRestoreStore> {
  const dir = dirs.get(closed);
  assert.ok(dir !== undefined, 'store dir known');
  const store = await openLazy(dir, archive, 64 * MiB);
  dirs.set(store, dir);
  return store;
}
const openTracked = async (archive: SnapshotStore, rate: number): Promise<LazyRestoreStore> => {
  const { dir, store } = await freshLazy(archive, rate);
  dirs.set(store, dir);
  return store;
};

test('random writes, trims, zeroes, snapshots, clones and restarts during hydration match a model', async () => {
  const random = seededRandom(seed + 1);
  const { archive, golden } = await archivedGolden(random);
  let store = await openTracked(archive, 2 * MiB);
  await store.adoptArchived('snap-golden');
  const models = new Map<string, Buffer>([['snap-golden', Buffer.from(golden)]]);
  const volumes = ['vol-a'];
  await store.clone('snap-golden', 'vol-a');
  models.set('vol-a', Buffer.from(golden));
  let serial = 0;
  for (let step = 0; step < 60; step++) {
    const roll = random();
    const volume = volumes[Math.floor(random() * volumes.length)]!;
    const model = models.get(volume)!;
    const offset = Math.floor((random() * SIZE) / 512) * 512;
    const length = Math.min(SIZE - offset, 512 * (1 + Math.floor(random() * 2048)));
    if (roll < 0.3) {
      const data = randomBuffer(random, length);
      await store.write(volume, offset, data);
      data.copy(model, offset);
    } else if (roll < 0.4) {
      await store.trim(volume, offset, length);
      model.fill(0, offset, offset + length);
    } else if (roll < 0.47) {
      await store.writeZeroes(volume, offset, length, { noHole: random() < 0.5 });
      model.fill(0, offset, offset + length);
    } else if (roll < 0.7) {
      const read = await store.read(volume, offset, length);
      assert.ok(read.equals(model.subarray(offset, offset + length)), `step ${step}: read of ${volume}`);
    } else if (roll < 0.8) {
      const snapshot = `snap-${(++serial).toString(16).padStart(8, '0')}`;
      await store.snapshot(volume, snapshot);
      models.set(snapshot, Buffer.from(model));
      if (random() < 0.5) {
        const clone = `vol-${serial.toString(16).padStart(8, '0')}`;
        await store.clone(snapshot, clone);
        models.set(clone, Buffer.from(model));
        volumes.push(clone);
      }
    } else if (roll < 0.85) {
      await store.flush();
      await store.close();
      store = await freshLazyReopen(store, archive);
    } else {
      assertMapCoversData(store, volume, model);
    }
  }
  for (const volume of volumes) await store.hydrated(volume);
  for (const [id, model] of models) {
    assert.ok((await store.read(id, 0, SIZE)).equals(model), `${id} matches its model`);
    if (store.device(id)?.kind === 'volume') assert.equal(store.isLazy(id), false, `${id} hydrated`);
  }
  await store.close();
});

test('a snapshot of a lazy volume archives and restores byte-identical, unfetched chunks included', async () => {
  const random = seededRandom(seed + 2);
  const { archive, golden } = await archivedGolden(random);
  const store = await openTracked(archive, 1);
  await store.adoptArchived('snap-golden');
  await store.clone('snap-golden', 'vol-b');
  const patch = randomBuffer(random, 4096);
  await store.write('vol-b', 9 * CHUNK + 512, patch);
  const expected = Buffer.from(golden);
  patch.copy(expected, 9 * CHUNK + 512);
  await store.snapshot('vol-b', 'snap-child');
  assert.ok(store.isLazy('snap-child'), 'the child still reads through for its unfetched chunks');
  await archiveSnapshot({ store, snapshotId: 'snap-child', target: archive });
  const elsewhere = await tempPool();
  cleanups.push(elsewhere.dispose);
  await restoreSnapshot({
    source: archive,
    snapshotId: 'snap-child',
    store: elsewhere.store,
    volumeId: 'vol-r',
  });
  assert.ok((await elsewhere.store.read('vol-r', 0, SIZE)).equals(expected), 'restored elsewhere intact');
  const changed = store.diff(null, 'snap-child');
  for (let index = 0; index < SIZE / CHUNK; index++) {
    if (expected.subarray(index * CHUNK, (index + 1) * CHUNK).every((byte) => byte === 0)) continue;
    const start = index * CHUNK;
    assert.ok(
      changed.some((range) => range.offset <= start && range.offset + range.length > start),
      `diff against nothing names data chunk ${index}`,
    );
  }
  // --fast-restore lifts the crawl's rate limit: the volume hydrates at once, its own write kept.
  await store.hydrated('vol-b', { unthrottled: true });
  assert.equal(store.isLazy('vol-b'), false);
  assert.ok((await store.read('vol-b', 0, SIZE)).equals(expected));
  await store.close();
});

test('a corrupt archived chunk is never served: its reads fail, the rest read, hydration stops', async () => {
  const random = seededRandom(seed + 3);
  const { archive, golden } = await archivedGolden(random);
  const manifest = await readManifest(archive, 'snap-golden');
  const badHash = chunkAt(manifest, 2)!;
  const faulty = new FaultStore(archive, { corruptKeys: (key) => key === chunkKey(badHash) });
  const store = await openTracked(faulty, 64 * MiB);
  await store.adoptArchived('snap-golden');
  await store.clone('snap-golden', 'vol-c');
  await assert.rejects(store.read('vol-c', 2 * CHUNK, 4096), (error: unknown) => {
    return error instanceof ArchiveError && error.code === 'ECORRUPT';
  });
  await assert.rejects(store.read('snap-golden', 2 * CHUNK + 100, 10), ArchiveError);
  assert.ok((await store.read('vol-c', 6 * CHUNK, CHUNK)).equals(golden.subarray(6 * CHUNK, 7 * CHUNK)));
  await assert.rejects(store.hydrated('vol-c'), ArchiveError);
  assert.equal(store.isLazy('vol-c'), true, 'a volume with an unreadable chunk stays lazy');
  await store.close();
});

test('the scratch volume of an adoption cut short is removed at the next open, not hydrated', async () => {
  const random = seededRandom(seed + 4);
  const { archive } = await archivedGolden(random);
  const { dir } = await freshLazy(archive, 64 * MiB).then(async ({ dir, store }) => {
    await store.close();
    return { dir };
  });
  // What a crash between "record the scratch volume" and "snapshot it" leaves behind.
  const scratch = restoreScratchVolumeId('snap-golden');
  const pool = await openBlockStore({ dir: join(dir, 'pool'), capacityBytes: units.GiB });
  await pool.createVolume(scratch, SIZE);
  await pool.close();
  await writeFile(
    join(dir, 'lazy-restore.json'),
    JSON.stringify({ formatVersion: 1, devices: { [scratch]: 'snap-golden' } }),
  );
  const counted = new FaultStore(archive, {});
  const store = await openLazy(dir, counted, 64 * MiB);
  assert.equal(store.device(scratch), undefined, 'the scratch volume is gone');
  assert.equal(store.isLazy(scratch), false);
  assert.equal(counted.counts.gets, 0, 'nothing was fetched for it');
  const records = JSON.parse(await readFile(join(dir, 'lazy-restore.json'), 'utf8')) as { devices: object };
  assert.deepEqual(records.devices, {});
  await store.adoptArchived('snap-golden');
  assert.equal(store.device('snap-golden')?.kind, 'snapshot', 'the adoption works again');
  await store.close();
});
