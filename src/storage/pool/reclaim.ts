// Reclaim: a background sweep of the one lineage a delete touched, never of the pool (docs/storage.md). It frees
// the rows no view can see; a dead lineage (no volume, snapshot or child) goes whole and queues its parent.
import { assert } from '../../base/assert.ts';
import { noChanges, type Changes, type GroupCommit } from './group-commit.ts';
import type { Lineage } from './lineage.ts';
import { TOMBSTONE } from './meta-db.ts';

/** What a sweep works on; all owned by the pool. */
export interface ReclaimDeps {
  readonly lineages: Map<number, Lineage>;
  readonly commits: GroupCommit;
  /** Frees an owned extent into `changes` (and counts it out of the pool's owned total). */
  readonly free: (extent: number, changes: Changes) => void;
  readonly isClosed: () => boolean;
  /** Called when the queue ran empty, so what was freed gets committed. */
  readonly onIdle: () => void;
}

/** The queue of lineages to sweep, worked off one lineage per event-loop turn. */
export class Reclaimer {
  readonly #queue = new Set<Lineage>();
  readonly #deps: ReclaimDeps;
  #scheduled = false;

  constructor(deps: ReclaimDeps) {
    this.#deps = deps;
  }

  /** Lineages waiting for a sweep. */
  get pending(): number {
    return this.#queue.size;
  }

  /** Queues sweeps of `lineages` in the background. */
  queue(lineages: Iterable<Lineage>): void {
    for (const lineage of lineages) this.#queue.add(lineage);
    this.#schedule();
  }

  /** Sweeps everything queued now (a write that found the pool full; close). */
  runAll(): void {
    // A sweep may queue its parent: the Set's iteration visits it in this same loop.
    for (const lineage of this.#queue) this.#sweep(lineage);
    this.#queue.clear();
  }

  #schedule(): void {
    if (this.#scheduled || this.#deps.isClosed()) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#deps.isClosed()) return;
      const next = this.#queue.values().next();
      if (next.done === true) return;
      this.#queue.delete(next.value);
      this.#sweep(next.value);
      this.#schedule();
      if (this.#queue.size === 0) this.#deps.onIdle();
    });
  }

  /** Frees the rows of one lineage that no view can see (a per-lineage sweep, never the whole pool). */
  #sweep(lineage: Lineage): void {
    const { lineages, commits, free } = this.#deps;
    if (lineages.get(lineage.id) !== lineage) return;
    const changes = noChanges();
    const dead = lineage.isDead();
    for (const [block, chain] of lineage.blocks) {
      if (lineage.busy.has(block)) continue;
      const keep = chain.map((_, index) => !dead && lineage.isVisible(chain, index));
      for (let index = chain.length - 1; index >= 0; index--) {
        if (keep[index] === true) continue;
        const [row] = chain.splice(index, 1);
        changes.rows.push([lineage.id, block, row!.birth, null]);
        if (row!.extent !== TOMBSTONE) free(row!.extent, changes);
      }
      if (chain.length === 0) lineage.blocks.delete(block);
    }
    commits.record(changes);
    if (!dead) return;
    assert(lineage.blocks.size === 0, 'reclaim: dead lineage kept rows');
    lineages.delete(lineage.id);
    commits.batch.lineages.set(lineage.id, null);
    const parent = lineage.parent?.lineage;
    if (parent !== undefined) {
      parent.children.delete(lineage);
      parent.invalidateViews();
      this.#queue.add(parent);
    }
  }
}
