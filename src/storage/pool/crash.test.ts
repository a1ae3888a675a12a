// Crash tests: a child runs the random workload and is SIGKILLed at random points; the reopened pool must
// hold every flushed write and every completed snapshot, and pass fsck.
// STRATA_CRASH_KILLS sets the number of kills (default 50); STRATA_SEED replays one run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openBlockStore, fsckPool } from '../block-store.ts';
import { Model, Rng, checkAfterCrash, modelFromStore } from './workload.ts';
import { crashShape } from './crash-shape.ts';
import { crashWindow } from './crash-replay.ts';

const worker = fileURLToPath(new URL('./crash-worker.ts', import.meta.url));
const kills = Number(process.env.STRATA_CRASH_KILLS ?? 50);
const baseSeed = process.env.STRATA_SEED !== undefined ? Number(process.env.STRATA_SEED) : Date.now() % 1e9;

/** Starts the worker, waits until it runs, lets it work for `runMs`, then SIGKILLs it. */
async function runAndKill(dir: string, seed: number, progress: string, runMs: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', worker, dir, String(seed), progress], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
    void exited.then(() => resolve());
  });
  await new Promise((resolve) => setTimeout(resolve, runMs));
  child.kill('SIGKILL');
  const { code, signal } = await exited;
  assert.equal(signal, 'SIGKILL', `worker ended on its own (code ${code}): ${stderr}`);
}

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
      await runAndKill(pool, seed, progress, rng.int(5, 250));
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
