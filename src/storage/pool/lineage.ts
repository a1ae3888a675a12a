// In-memory mapping index: per lineage, block -> rows newest-first, each row (birth generation, extent).
import { assert } from '../../base/assert.ts';
import { TOMBSTONE } from './meta-db.ts';

/** One mapping row in memory. `extent` may be TOMBSTONE (reads as zeros). */
export interface Row {
  readonly birth: number;
  extent: number;
}

/** Where a clone reads blocks it never wrote: a frozen view of another lineage. */
export interface ParentView {
  readonly lineage: Lineage;
  readonly gen: number;
  readonly bytes: number;
  /** Blocks of the parent view that may hold data (ceil(bytes / extentBytes)). */
  readonly blocks: number;
}

/** The chain of states of one writable volume. */
export class Lineage {
  readonly id: number;
  /** Generation new rows are born in; a snapshot freezes it and bumps it. */
  gen: number;
  readonly parent: ParentView | null;
  volumeId: string | null = null;
  /** Snapshot generation -> snapshot id. */
  readonly snapshots = new Map<number, string>();
  /** Clone lineages reading through a view of this one. */
  readonly children = new Set<Lineage>();
  /** block -> rows, newest first. */
  readonly blocks = new Map<number, Row[]>();
  /** Blocks with a mutation in flight; other mutations and reads of the head wait on them. */
  readonly busy = new Map<number, Promise<void>>();
  /** Writes in flight; snapshot and delete drain them. */
  writesInFlight = 0;
  /** Set while a control operation needs the volume quiet; new writes wait on it. */
  gate: Promise<void> | null = null;
  drained: (() => void) | null = null;
  #viewGens: number[] | null = null;

  constructor(id: number, gen: number, parent: ParentView | null) {
    assert(gen >= 1, 'lineage: generation starts at 1');
    this.id = id;
    this.gen = gen;
    this.parent = parent;
  }

  /** Sorted generations of every frozen view someone still needs: snapshots, and the parents of clones. */
  viewGens(): number[] {
    if (this.#viewGens === null) {
      const gens = new Set<number>(this.snapshots.keys());
      for (const child of this.children) {
        assert(child.parent !== null && child.parent.lineage === this, 'lineage: child without parent');
        gens.add(child.parent.gen);
      }
      this.#viewGens = [...gens].sort((a, b) => a - b);
    }
    return this.#viewGens;
  }

  /** Call after snapshots or children change. */
  invalidateViews(): void {
    this.#viewGens = null;
  }

  /** Whether nothing needs this lineage any more (no volume, no view). */
  isDead(): boolean {
    return this.volumeId === null && this.snapshots.size === 0 && this.children.size === 0;
  }

  /** Whether row `chain[index]` is visible to the volume head or to some frozen view. */
  isVisible(chain: readonly Row[], index: number): boolean {
    const row = chain[index];
    assert(row !== undefined, 'isVisible: no row');
    if (index === 0 && this.volumeId !== null) return true;
    const upper = index === 0 ? Infinity : chain[index - 1]!.birth;
    return hasGenIn(this.viewGens(), row.birth, upper);
  }
}

/** Whether sorted `gens` holds a g with low <= g < high (binary search). */
function hasGenIn(gens: readonly number[], low: number, high: number): boolean {
  let lo = 0;
  let hi = gens.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (gens[mid]! < low) lo = mid + 1;
    else hi = mid;
  }
  return lo < gens.length && gens[lo]! < high;
}

/** The newest row of `chain` born at or before `gen`, or undefined. */
export function rowAt(chain: readonly Row[] | undefined, gen: number): Row | undefined {
  if (chain === undefined) return undefined;
  for (const row of chain) if (row.birth <= gen) return row;
  return undefined;
}

/** The extent view (lineage, gen) reads block `block` from, or TOMBSTONE for zeros. Walks clone parents. */
export function resolveBlock(lineage: Lineage, gen: number, block: number): number {
  let current: Lineage = lineage;
  let viewGen = gen;
  for (let depth = 0; ; depth++) {
    assert(depth < 100_000, 'resolveBlock: lineage cycle');
    const row = rowAt(current.blocks.get(block), viewGen);
    if (row !== undefined) return row.extent;
    const parent = current.parent;
    if (parent === null || block >= parent.blocks) return TOMBSTONE;
    current = parent.lineage;
    viewGen = parent.gen;
  }
}
