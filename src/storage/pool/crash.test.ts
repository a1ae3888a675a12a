// Crash tests: a child runs the random workload and is SIGKILLed at random points; the reopened pool must
// hold every flushed write and every completed snapshot, and pass fsck.
// STRATA_CRASH_KILLS sets the number of kills (default 50); STRATA_SEED replays one run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAndKill } from '../../base/testing/run-and-kill.ts';
import { openBlockStore, fsckPool } from '../open-block-store.ts';
import { Model, Rng, checkAfterCrash, modelFromStore } from './testing/workload.ts';
import { crashShape } from './testing/crash-shape.ts';
import { crashWindow } from './testing/crash-replay.ts';

const worker = fileURLToPath(new URL('./testing/crash-worker.ts', import.meta.url));
const kills = Number(process.env.STRATA_CRASH_KILLS ?? 50);
const baseSeed = process.env.STRATA_SEED !== undefined ? Number(process.env.STRATA_SEED) : Date.now() % 1e9;

test(`SIGKILL at random points loses nothing flushed (${kills} kills, seed ${baseSeed})`, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-crash-'));
  const progress = join(dir, 'progress');
  const pool = join(dir, 'pool');
  const rng = new Rng(baseSeed);
  let baseline = new Model();
  let flushes = 0;
  try {
    for (let kill = 0; kill < kills; kill++) {
      const seed = baseSeed + kill;
      await writeFile(progress, '');
      await runAndKill(worker, [pool, String(seed), progress], rng.int(5, 250));
      const lines = (await readFile(progress, 'utf8')).split('\n').filter((line) => line !== '');
      const lastFlush = lines.length === 0 ? -1 : Number(lines.at(-1));
      flushes += lines.length;
      const report = await fsckPool(pool);
      assert.deepEqual(report.problems, [], `fsck after kill ${kill} (STRATA_SEED=${baseSeed})`);
      const versions = crashWindow(baseline, seed, `k${seed}`, crashShape, lastFlush);
      const store = await openBlockStore({ dir: pool });
      try {
        const problems = await checkAfterCrash(store, versions);
        assert.deepEqual(problems, [], `kill ${kill}, flush at op ${lastFlush} (STRATA_SEED=${baseSeed})`);
        baseline = await modelFromStore(store);
      } finally {
        await store.close();
      }
    }
    t.diagnostic(`${kills} kills, ${flushes} flushes verified, ${baseline.devices.size} devices at the end`);
    assert.ok(flushes > 0, 'the workload flushed at least once');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
