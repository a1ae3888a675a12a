// Extent allocator: a free stack below the high-water mark; extents past it are holes in the sparse file.
import { assert } from '../../base/assert.ts';

/** An allocated extent; `fresh` means it lies past the old high-water mark, so it is a hole reading zeros. */
export interface Allocation {
  readonly extent: number;
  readonly fresh: boolean;
}

/** Hands out extent numbers in [0, capacityExtents). Freed extents come back only through `release`. */
export class Allocator {
  #capacityExtents: number;
  #highWater: number;
  readonly #free: number[];
  readonly #freeSet: Set<number>;

  constructor(capacityExtents: number, highWater: number, free: readonly number[]) {
    assert(Number.isSafeInteger(capacityExtents) && capacityExtents >= 0, 'allocator: bad capacity');
    assert(highWater >= 0 && highWater <= Math.max(capacityExtents, highWater), 'allocator: bad high water');
    this.#capacityExtents = capacityExtents;
    this.#highWater = highWater;
    // Pop the lowest extents first: keeps the file compact.
    this.#free = [...free].sort((a, b) => b - a);
    this.#freeSet = new Set(free);
    assert(this.#freeSet.size === free.length, 'allocator: duplicate free extent');
    for (const extent of free)
      assert(extent >= 0 && extent < highWater, `allocator: free extent ${extent} out of range`);
  }

  /** Extents that can be allocated now. */
  available(): number {
    return this.#free.length + Math.max(0, this.#capacityExtents - this.#highWater);
  }

  /** Extents ever handed out from the sparse end (file length in extents). */
  get highWater(): number {
    return this.#highWater;
  }

  /** The pool's capacity in extents. */
  get capacityExtents(): number {
    return this.#capacityExtents;
  }

  /** Extents on the free stack. */
  get freeCount(): number {
    return this.#free.length;
  }

  /** Takes one extent; the caller has checked `available()`. */
  allocate(): Allocation {
    assert(this.available() > 0, 'allocate: pool full (caller must check available)');
    const reused = this.#free.pop();
    if (reused !== undefined) {
      this.#freeSet.delete(reused);
      assert(reused < this.#highWater, 'allocate: free extent past high water');
      return { extent: reused, fresh: false };
    }
    const extent = this.#highWater++;
    assert(extent < this.#capacityExtents, 'allocate: past capacity');
    return { extent, fresh: true };
  }

  /** Returns extents to the free stack: only once the commit that freed them is durable. */
  release(extents: readonly number[]): void {
    for (const extent of extents) {
      assert(extent >= 0 && extent < this.#highWater, `release: extent ${extent} out of range`);
      assert(!this.#freeSet.has(extent), `release: extent ${extent} freed twice`);
      this.#freeSet.add(extent);
      this.#free.push(extent);
    }
  }

  /** Whether `extent` is on the free stack. */
  isFree(extent: number): boolean {
    return this.#freeSet.has(extent);
  }

  /** Raises capacity; never lowers it. */
  grow(capacityExtents: number): void {
    assert(capacityExtents >= this.#capacityExtents, 'grow: would shrink');
    this.#capacityExtents = capacityExtents;
  }
}
