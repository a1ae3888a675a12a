// Per-block locks of a lineage: a mutation of an extent holds its block, so a late copy never overwrites a
// newer write and reads of a volume never see an extent whose copy is still being written.
import type { Lineage } from './lineage.ts';

/** Waits until no mutation is in flight on blocks [first, last] of `lineage`. */
export async function waitIdle(lineage: Lineage, first: number, last: number): Promise<void> {
  if (lineage.busy.size === 0) return;
  for (;;) {
    let wait: Promise<void> | undefined;
    for (let block = first; block <= last && wait === undefined; block++) wait = lineage.busy.get(block);
    if (wait === undefined) return;
    await wait;
  }
}

/** Marks `blocks` busy once none of them is; returns the unlock. */
export async function lockBlocks(lineage: Lineage, blocks: readonly number[]): Promise<() => void> {
  for (;;) {
    let wait: Promise<void> | undefined;
    if (lineage.busy.size > 0) {
      for (const block of blocks) if ((wait = lineage.busy.get(block)) !== undefined) break;
    }
    if (wait === undefined) break;
    await wait;
  }
  return lockNow(lineage, blocks);
}

/** Marks `blocks` busy if none of them is, returning the unlock; undefined if one is busy. */
export function tryLockBlocks(lineage: Lineage, blocks: readonly number[]): (() => void) | undefined {
  if (lineage.busy.size > 0) for (const block of blocks) if (lineage.busy.has(block)) return undefined;
  return lockNow(lineage, blocks);
}

function lockNow(lineage: Lineage, blocks: readonly number[]): () => void {
  let release!: () => void;
  const busy = new Promise<void>((resolve) => (release = resolve));
  for (const block of blocks) lineage.busy.set(block, busy);
  return () => {
    for (const block of blocks) if (lineage.busy.get(block) === busy) lineage.busy.delete(block);
    release();
  };
}
