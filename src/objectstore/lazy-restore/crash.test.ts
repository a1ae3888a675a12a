// Lazy-restore crash test: a child hydrates a volume cloned from an archived snapshot while it takes seeded
// FUA writes and trims, and is SIGKILLed at random points. After each kill the pool passes fsck, the
// archived snapshot reads unchanged, and the volume holds the archive's bytes overlaid with every
// acknowledged operation (the one in flight may be either side, per sector); at the end it hydrates fully.
// STRATA_LAZY_CRASH_KILLS sets the number of kills (default 8); STRATA_TEST_SEED replays a run.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAndKill } from '../../base/testing/run-and-kill.ts';
import { silentLogger } from '../../base/log.ts';
import { fsckPool, openBlockStore } from '../../storage/open-block-store.ts';
import { archiveSnapshot } from '../archiver.ts';
import { openDirStore } from '../dir/dir-store.ts';
import { randomBuffer, seededRandom, tempDir, tempPool } from '../testing/pools.ts';
import {
  applyCrashOp,
  crashOp,
  crashOpRange,
  crashSnapshotId,
  crashVolumeBytes,
  crashVolumeId,
} from './crash-workload.ts';
import { openLazyRestoreStore, type LazyRestoreStore } from './lazy-store.ts';

const worker = fileURLToPath(new URL('./crash-worker.ts', import.meta.url));
const kills = Number(process.env.STRATA_LAZY_CRASH_KILLS ?? 8);
const baseSeed = Number(process.env.STRATA_TEST_SEED ?? Date.now() % 1_000_000);
console.log(`lazy-restore crash.test.ts seed ${baseSeed} (replay with STRATA_TEST_SEED=${baseSeed})`);
const chunkBytes = 512 * 1024;
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Archives a 64 MiB snapshot (every fifth chunk zero) into a dir store; returns the store's path and bytes. */
async function archiveGolden(random: () => number): Promise<{ archiveDir: string; golden: Buffer }> {
  const pool = await tempPool();
  cleanups.push(pool.dispose);
  const archive = await tempDir('strata-lazy-crash-archive-');
  cleanups.push(archive.dispose);
  const golden = Buffer.alloc(crashVolumeBytes);
  for (let index = 0; index < crashVolumeBytes / chunkBytes; index++) {
    if (index % 5 !== 4) randomBuffer(random, chunkBytes).copy(golden, index * chunkBytes);
  }
  await pool.store.createVolume('vol-golden', crashVolumeBytes);
  await pool.store.write('vol-golden', 0, golden);
  await pool.store.snapshot('vol-golden', crashSnapshotId);
  const target = await openDirStore(archive.path);
  await archiveSnapshot({ store: pool.store, snapshotId: crashSnapshotId, target });
  await target.close();
  return { archiveDir: archive.path, golden };
}

async function openLazy(
  dir: string,
  archiveDir: string,
  hydrationBytesPerSecond: number,
): Promise<LazyRestoreStore> {
  return openLazyRestoreStore({
    inner: await openBlockStore({ dir: join(dir, 'pool') }),
    source: await openDirStore(archiveDir),
    recordsPath: join(dir, 'lazy-restore.json'),
    logger: silentLogger,
    hydrationBytesPerSecond,
  });
}

/** The volume's bytes without filling anything: a snapshot of it reads through instead of fetching into it. */
async function contentsOf(store: LazyRestoreStore): Promise<Buffer> {
  const probe = 'snap-0000000000000beef';
  await store.snapshot(crashVolumeId, probe);
  const bytes = await store.read(probe, 0, crashVolumeBytes);
  await store.deleteSnapshot(probe);
  return bytes;
}

/** Checks `actual` against the model, where the range of the operation in flight may hold either side. */
function checkAgainstModel(
  actual: Buffer,
  model: Buffer,
  inFlight: ReturnType<typeof crashOp>,
  kill: number,
): void {
  const { offset, length } = crashOpRange(inFlight);
  const after = Buffer.from(model.subarray(offset, offset + length));
  applyCrashOp(after, { ...inFlight, offset: 0 });
  for (let at = 0; at < length; at += 512) {
    const sector = actual.subarray(offset + at, offset + at + 512);
    const old = model.subarray(offset + at, offset + at + 512);
    assert.ok(
      sector.equals(old) || sector.equals(after.subarray(at, at + 512)),
      `kill ${kill}: sector ${offset + at} is neither side`,
    );
  }
  actual.copy(model, offset, offset, offset + length);
  assert.ok(
    actual.equals(model),
    `kill ${kill}: the volume lost an acknowledged operation or archived data (seed ${baseSeed})`,
  );
}

test(`SIGKILL during hydration and FUA writes loses nothing (${kills} kills)`, async (t) => {
  const random = seededRandom(baseSeed);
  const { archiveDir, golden } = await archiveGolden(random);
  const work = await tempDir('strata-lazy-crash-');
  cleanups.push(work.dispose);
  const progress = join(work.path, 'progress');
  const model = Buffer.from(golden);
  let acknowledged = 0;
  let lazyKills = 0;
  for (let kill = 0; kill < kills; kill++) {
    const seed = baseSeed + kill;
    await writeFile(progress, '');
    await runAndKill(
      worker,
      [work.path, archiveDir, String(seed), progress],
      100 + Math.floor(random() * 500),
    );
    const done = (await readFile(progress, 'utf8')).split('\n').filter((line) => line !== '').length;
    acknowledged += done;
    for (let index = 0; index < done; index++) applyCrashOp(model, crashOp(seed, index));
    assert.deepEqual((await fsckPool(join(work.path, 'pool'))).problems, [], `fsck after kill ${kill}`);
    const store = await openLazy(work.path, archiveDir, 1);
    if (store.isLazy(crashVolumeId)) lazyKills++;
    try {
      assert.ok(
        (await store.read(crashSnapshotId, 0, crashVolumeBytes)).equals(golden),
        'the snapshot never changes',
      );
      checkAgainstModel(await contentsOf(store), model, crashOp(seed, done), kill);
    } finally {
      await store.close();
    }
  }
  const store = await openLazy(work.path, archiveDir, 1);
  await store.hydrated(crashVolumeId, { unthrottled: true });
  assert.equal(store.isLazy(crashVolumeId), false, 'hydrated in the end');
  assert.ok(
    (await store.read(crashVolumeId, 0, crashVolumeBytes)).equals(model),
    'hydrated bytes match the model',
  );
  await store.close();
  assert.deepEqual((await fsckPool(join(work.path, 'pool'))).problems, [], 'fsck at the end');
  assert.ok(acknowledged > 0, 'the workload acknowledged operations');
  assert.ok(lazyKills > 0, 'some kills landed before the hydration finished');
  t.diagnostic(`${kills} kills (${lazyKills} mid-hydration), ${acknowledged} acknowledged operations`);
});
