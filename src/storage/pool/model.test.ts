// Model-based random testing: thousands of seeded ops against the store and a plain in-memory model.
// Replay a failure with STRATA_SEED=<seed> node scripts/run-tests.mjs storage/pool/model
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBlockStore, fsckPool } from '../open-block-store.ts';
import {
  Model,
  Rng,
  applyToModel,
  applyToStore,
  checkMaps,
  modelFromStore,
  nextOp,
  type Op,
} from './workload.ts';

const seeds =
  process.env.STRATA_SEED !== undefined ? [Number(process.env.STRATA_SEED)] : [Date.now() % 1e9, 1, 2];
const opsPerSeed = Number(process.env.STRATA_MODEL_OPS ?? 2500);

for (const seed of seeds) {
  for (const extentBytes of [4096, 65536]) {
    test(`random ops match the model (seed ${seed}, extent ${extentBytes})`, async (t) => {
      const dir = await mkdtemp(join(tmpdir(), 'strata-model-'));
      const shape = { extentBytes, volumeBytesMax: 48 * extentBytes, devicesMax: 14 };
      let last: Op | undefined;
      try {
        const store = await openBlockStore({ dir, extentBytes, capacityBytes: 4096 * extentBytes });
        const rng = new Rng(seed);
        const model = new Model();
        for (let index = 0; index < opsPerSeed; index++) {
          last = nextOp(rng, model, shape, 'm', index);
          await applyToStore(store, last, model);
          applyToModel(model, last);
          if (index % 500 === 499) assert.deepEqual(checkMaps(store, model), [], `maps after op ${index}`);
        }
        const reopenedFrom = await modelFromStore(store);
        assert.deepEqual(reopenedFrom, model, 'every device reads as the model');
        await store.close();
        const report = await fsckPool(dir);
        assert.deepEqual(report.problems, []);
        const again = await openBlockStore({ dir });
        assert.deepEqual(await modelFromStore(again), model, 'the reopened pool reads as the model');
        await again.close();
        t.diagnostic(
          `seed ${seed}: ${report.stats.mappings} mappings, ${report.stats.ownedExtents} extents owned`,
        );
      } catch (error) {
        t.diagnostic(`FAILED with STRATA_SEED=${seed} after op ${JSON.stringify(last)}`);
        console.error(`replay with STRATA_SEED=${seed}`);
        throw error;
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
}
