// Child process of the crash test: runs the seeded workload on a pool until it is killed.
// After each completed flush it appends the op index to the progress file and fdatasyncs it.
// Usage: node --import tsx src/storage/pool/testing/crash-worker.ts <pool-dir> <seed> <progress-file>
import { fdatasyncSync, openSync, writeSync } from 'node:fs';
import { openBlockStore } from '../../open-block-store.ts';
import { Rng, applyToModel, applyToStore, modelFromStore, nextOp } from './workload.ts';
import { crashShape } from './crash-shape.ts';

const [dir, seedText, progressPath] = process.argv.slice(2);
if (dir === undefined || seedText === undefined || progressPath === undefined) {
  console.error('usage: crash-worker.ts <pool-dir> <seed> <progress-file>');
  process.exit(2);
}
const seed = Number(seedText);
const store = await openBlockStore({
  dir,
  extentBytes: crashShape.extentBytes,
  capacityBytes: crashShape.capacityBytes,
});
const model = await modelFromStore(store);
const progress = openSync(progressPath, 'a');
const rng = new Rng(seed);
process.stdout.write('ready\n');
for (let index = 0; index < crashShape.opsMax; index++) {
  const op = nextOp(rng, model, crashShape, `k${seed}`, index);
  await applyToStore(store, op, model);
  applyToModel(model, op);
  if (op.type === 'flush') {
    writeSync(progress, `${index}\n`);
    fdatasyncSync(progress);
  }
}
await store.close();
