// Model-based random testing: thousands of seeded ops against the store and a plain in-memory model.
// Replay a failure with STRATA_SEED=<seed> node scripts/run-tests.mjs storage/pool/model
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBlockStore, fsckPool } from '../open-block-store.ts';
import { StoreError, type BlockStore } from '../block-store.ts';
import { openRealDataFile, type DataFile } from './data-file.ts';
import { openPool } from './pool.ts';
import {
  Model,
  Rng,
  applyToModel,
  applyToStore,
  checkMaps,
  modelFromStore,
  nextOp,
  type Op,
} from './testing/workload.ts';

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

// The same workload on a data file that fails 1 in 20 writes with ENOSPC: a failed write, trim or zeroing
// leaves its range as it was or as asked, byte by byte (a disk's failed write), and nothing else: no extent
// leaked or shared (fsck), maps agree with the data, and the reopened pool reads as the model.
for (const extentBytes of [4096, 65536]) {
  const seed = seeds[0]!;
  test(`random ops with writes failing ENOSPC match the model (seed ${seed}, extent ${extentBytes})`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-model-'));
    const shape = { extentBytes, volumeBytesMax: 48 * extentBytes, devicesMax: 14 };
    const faults = new Rng(seed ^ 0x5eed);
    let failed = 0;
    try {
      const real = await openRealDataFile(join(dir, 'data'));
      const full = () => Object.assign(new Error('ENOSPC: injected'), { code: 'ENOSPC' });
      const dataFile: DataFile = {
        read: (...args) => real.read(...args),
        write: (...args) => (faults.int(0, 19) === 0 ? Promise.reject(full()) : real.write(...args)),
        sync: () => real.sync(),
        punch: (position, length) => real.punch(position, length),
        truncate: (length) => real.truncate(length),
        sizeBytes: () => real.sizeBytes(),
        close: () => real.close(),
      };
      const store = await openPool({ dir, dataFile, extentBytes, capacityBytes: 4096 * extentBytes });
      const rng = new Rng(seed);
      const model = new Model();
      for (let index = 0; index < opsPerSeed / 2; index++) {
        const op = nextOp(rng, model, shape, 'f', index);
        const before = model.copy();
        applyToModel(model, op);
        try {
          await applyToStore(store, op, before);
        } catch (error) {
          if (!(error instanceof StoreError && error.code === 'ENOSPC')) throw error;
          assert.ok(op.type === 'write' || op.type === 'trim' || op.type === 'zero', `${op.type} failed`);
          failed++;
          await adoptFailedRange(store, op, before, model);
        }
      }
      assert.deepEqual(checkMaps(store, model), [], 'maps');
      assert.deepEqual(await modelFromStore(store), model, 'every device reads as the model');
      await store.close();
      assert.deepEqual((await fsckPool(dir)).problems, []);
      const again = await openBlockStore({ dir });
      assert.deepEqual(await modelFromStore(again), model, 'the reopened pool reads as the model');
      await again.close();
      t.diagnostic(`seed ${seed}: ${failed} ops failed with ENOSPC`);
      assert.ok(failed > 0, 'some writes failed');
    } catch (error) {
      console.error(`replay with STRATA_SEED=${seed}`);
      throw error;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

/** After a failed write-like op: each byte of its range must be the old or the asked value; the model takes it. */
async function adoptFailedRange(store: BlockStore, op: Op, before: Model, model: Model): Promise<void> {
  assert.ok(op.type === 'write' || op.type === 'trim' || op.type === 'zero');
  const got = await store.read(op.id, op.offset, op.length);
  const old = before.devices.get(op.id)!.data.subarray(op.offset, op.offset + op.length);
  const asked = model.devices.get(op.id)!.data.subarray(op.offset, op.offset + op.length);
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== old[i] && got[i] !== asked[i]) assert.fail(`${op.type} ${op.id}: byte ${i} is neither`);
  }
  got.copy(model.devices.get(op.id)!.data, op.offset);
}
