// Range arithmetic for lazy devices: the ranges of unfetched chunks, laid over the pool's own ranges.
import type { MappedRange } from '../../storage/block-store.ts';
import { chunkLength, type Manifest } from '../archive-format.ts';

/** The byte ranges of chunks `indices`, clipped to `[offset, offset + length)`, as allocated ranges. */
export function chunkRanges(
  indices: readonly number[],
  manifest: Pick<Manifest, 'sizeBytes' | 'chunkBytes'>,
  offset: number,
  length: number,
): MappedRange[] {
  return indices.map((index) => {
    const start = Math.max(offset, index * manifest.chunkBytes);
    const end = Math.min(offset + length, index * manifest.chunkBytes + chunkLength(manifest, index));
    return { offset: start, length: end - start, allocated: true };
  });
}

/**
 * The union of `base` and `forced` (each sorted and non-overlapping), where `forced` wins on overlap.
 * Adjacent ranges with the same `allocated` are merged. With a `base` that covers a request (mapRange),
 * the result covers it too; with a sparse `base` (diff), the result is the sparse union.
 */
export function overlay(base: readonly MappedRange[], forced: readonly MappedRange[]): MappedRange[] {
  if (forced.length === 0) return [...base];
  const cuts = new Set<number>();
  for (const range of [...base, ...forced]) {
    cuts.add(range.offset);
    cuts.add(range.offset + range.length);
  }
  const points = [...cuts].sort((a, b) => a - b);
  const result: MappedRange[] = [];
  let b = 0;
  let f = 0;
  for (let i = 0; i + 1 < points.length; i++) {
    const start = points[i]!;
    const end = points[i + 1]!;
    while (b < base.length && base[b]!.offset + base[b]!.length <= start) b++;
    while (f < forced.length && forced[f]!.offset + forced[f]!.length <= start) f++;
    const inForced = f < forced.length && forced[f]!.offset <= start;
    const inBase = b < base.length && base[b]!.offset <= start;
    if (!inForced && !inBase) continue;
    const allocated = inForced || base[b]!.allocated;
    const last = result[result.length - 1];
    if (last !== undefined && last.offset + last.length === start && last.allocated === allocated) {
      result[result.length - 1] = { offset: last.offset, length: end - last.offset, allocated };
    } else {
      result.push({ offset: start, length: end - start, allocated });
    }
  }
  return result;
}

/** Allocated ranges covering every byte any of `ranges` covers: sorted, merged, non-overlapping. */
export function union(ranges: readonly MappedRange[]): MappedRange[] {
  const sorted = [...ranges].sort((a, b) => a.offset - b.offset);
  const result: MappedRange[] = [];
  for (const range of sorted) {
    const last = result[result.length - 1];
    if (last !== undefined && range.offset <= last.offset + last.length) {
      const end = Math.max(last.offset + last.length, range.offset + range.length);
      result[result.length - 1] = { offset: last.offset, length: end - last.offset, allocated: true };
    } else {
      result.push({ offset: range.offset, length: range.length, allocated: true });
    }
  }
  return result;
}
