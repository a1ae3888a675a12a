// Power loss: the data file keeps writes since the last sync in an overlay and a "power cut" drops all,
// none or a random subset of them. The reopened pool must hold every flushed write and completed snapshot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsckPool } from '../open-block-store.ts';
import { openPool } from './pool.ts';
import { openRealDataFile } from './data-file.ts';
import { LossyDataFile } from './testing/lossy-data-file.ts';
import {
  Model,
  Rng,
  applyToModel,
  applyToStore,
  checkAfterCrash,
  modelFromStore,
  nextOp,
} from './testing/workload.ts';
import { crashShape } from './testing/crash-shape.ts';
import { crashWindow } from './testing/crash-replay.ts';

const cuts = Number(process.env.STRATA_POWER_CUTS ?? 60);
const baseSeed = process.env.STRATA_SEED !== undefined ? Number(process.env.STRATA_SEED) : Date.now() % 1e9;

test(`power cuts drop unsynced writes but nothing flushed (${cuts} cuts, seed ${baseSeed})`, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-power-'));
  const rng = new Rng(baseSeed);
  let baseline = new Model();
  let dropped = 0;
  try {
    for (let cut = 0; cut < cuts; cut++) {
      const seed = baseSeed + cut;
      const lossy = new LossyDataFile(await openRealDataFile(join(dir, 'data')));
      const { extentBytes, capacityBytes } = crashShape;
      const store = await openPool({ dir, dataFile: lossy, extentBytes, capacityBytes });
      assert.deepEqual(
        await modelFromStore(store),
        baseline,
        `cut ${cut}: pool does not read as it was left`,
      );
      const opsRun = rng.int(1, 150);
      const workload = new Rng(seed);
      const model = baseline.copy();
      let lastFlush = -1;
      for (let index = 0; index < opsRun; index++) {
        const op = nextOp(workload, model, crashShape, `p${seed}`, index);
        await applyToStore(store, op, model);
        applyToModel(model, op);
        if (op.type === 'flush') lastFlush = index;
      }
      await store.abandon();
      const keep = rng.pick([0, 0.5, 1]);
      dropped += (await lossy.powerCut(() => rng.next() < keep)).dropped;
      const report = await fsckPool(dir);
      assert.deepEqual(report.problems, [], `fsck after cut ${cut} (STRATA_SEED=${baseSeed})`);
      const versions = crashWindow(baseline, seed, `p${seed}`, crashShape, lastFlush, opsRun);
      const reopened = await openPool({ dir });
      try {
        const problems = await checkAfterCrash(reopened, versions);
        assert.deepEqual(
          problems,
          [],
          `cut ${cut}, flush at op ${lastFlush} of ${opsRun} (STRATA_SEED=${baseSeed})`,
        );
        baseline = await modelFromStore(reopened);
      } finally {
        await reopened.close();
      }
    }
    t.diagnostic(`${cuts} power cuts, ${dropped} unsynced writes dropped`);
    assert.ok(dropped > 0, 'some power cut dropped writes');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
