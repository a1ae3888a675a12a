// Rebuilds the model states a crash may have left: from the last completed flush to the next flush op.
import { Rng, applyToModel, nextOp } from './workload.ts';
import type { WorkloadShape, Model } from './workload.ts';

/** Model versions allowed after a crash; `lastFlush` is the index of the last flush op known complete (-1: none). */
export function crashWindow(
  baseline: Model,
  seed: number,
  tag: string,
  shape: WorkloadShape,
  lastFlush: number,
  opsRun?: number,
): Model[] {
  const model = baseline.copy();
  const rng = new Rng(seed);
  const versions: Model[] = [];
  if (lastFlush < 0) versions.push(model.copy());
  for (let index = 0; ; index++) {
    const op = nextOp(rng, model, shape, tag, index);
    applyToModel(model, op);
    if (index === lastFlush) versions.push(model.copy());
    if (index <= lastFlush) continue;
    versions.push(model.copy());
    if (opsRun !== undefined ? index >= opsRun - 1 : op.type === 'flush') return versions;
  }
}
