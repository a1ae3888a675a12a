// Allocation maps, diffs and usage of devices, from the in-memory index. Past `rangeScanBlocksMax` blocks they
// iterate the mapped rows of the lineage chain instead of the block range (a 1 TiB volume costs what it maps).
import { assert } from '../../base/assert.ts';
import type { DeviceUsage, MappedRange } from '../block-store.ts';
import type { Device } from './device.ts';
import { resolveBlock, rowAt, type Lineage, type Row } from './lineage.ts';
import { TOMBSTONE } from './meta-db.ts';

/** Past this many blocks, range scans iterate mapped rows instead of the block range. */
const rangeScanBlocksMax = 1 << 16;

/** Allocation map of [offset, offset + length) of a device (checked by the caller). */
export function mapRange(device: Device, offset: number, length: number, extentBytes: number): MappedRange[] {
  if (length === 0) return [];
  const first = Math.floor(offset / extentBytes);
  const last = Math.floor((offset + length - 1) / extentBytes);
  const blocks = candidateBlocks(device.lineage, first, last).filter(
    (block) => resolveBlock(device.lineage, device.gen, block) !== TOMBSTONE,
  );
  return toRanges(blocks, offset, offset + length, extentBytes);
}

/** Ranges whose contents may differ between two devices (`from` null: an empty device). */
export function diff(from: Device | null, to: Device, extentBytes: number): MappedRange[] {
  const lastBlock = Math.ceil(to.sizeBytes / extentBytes) - 1;
  const fromBlocks = from === null ? 0 : Math.ceil(from.sizeBytes / extentBytes);
  const candidates = new Set(candidateBlocks(to.lineage, 0, lastBlock));
  if (from !== null) for (const block of candidateBlocks(from.lineage, 0, lastBlock)) candidates.add(block);
  const result: MappedRange[] = [];
  for (const block of [...candidates].sort((a, b) => a - b)) {
    const toExtent = resolveBlock(to.lineage, to.gen, block);
    const fromExtent =
      from === null || block >= fromBlocks ? TOMBSTONE : resolveBlock(from.lineage, from.gen, block);
    if (toExtent === fromExtent) continue;
    const start = block * extentBytes;
    const length = Math.min(extentBytes, to.sizeBytes - start);
    const allocated = toExtent !== TOMBSTONE;
    const previous = result.at(-1);
    if (
      previous !== undefined &&
      previous.allocated === allocated &&
      previous.offset + previous.length === start
    ) {
      result[result.length - 1] = { offset: previous.offset, length: previous.length + length, allocated };
    } else {
      result.push({ offset: start, length, allocated });
    }
  }
  return result;
}

/** Bytes a device maps, and bytes only its lineage owns. */
export function deviceUsage(device: Device, extentBytes: number): DeviceUsage {
  const lastBlock = Math.ceil(device.sizeBytes / extentBytes) - 1;
  let mapped = 0;
  for (const block of candidateBlocks(device.lineage, 0, lastBlock)) {
    if (resolveBlock(device.lineage, device.gen, block) !== TOMBSTONE) mapped++;
  }
  let owned = 0;
  for (const chain of device.lineage.blocks.values()) {
    if (device.kind === 'volume') owned += chain.filter((row) => row.extent !== TOMBSTONE).length;
    else if (onlySnapshotSees(device, chain)) owned++;
  }
  return { mappedBytes: mapped * extentBytes, ownedBytes: owned * extentBytes };
}

function onlySnapshotSees(device: Device, chain: Row[]): boolean {
  const row = rowAt(chain, device.gen);
  if (row === undefined || row.extent === TOMBSTONE) return false;
  const index = chain.indexOf(row);
  const lineage = device.lineage;
  if (index === 0 && lineage.volumeId !== null) return false;
  const upper = index === 0 ? Infinity : chain[index - 1]!.birth;
  return !lineage.viewGens().some((gen) => gen !== device.gen && gen >= row.birth && gen < upper);
}

/** Sorted blocks in [first, last] that may be mapped in `lineage` or its ancestors. */
export function candidateBlocks(lineage: Lineage, first: number, last: number): number[] {
  const count = last - first + 1;
  if (count <= 0) return [];
  let mappedRows = 0;
  for (let l: Lineage | undefined = lineage; l !== undefined; l = l.parent?.lineage)
    mappedRows += l.blocks.size;
  if (count <= rangeScanBlocksMax || count <= mappedRows) {
    return Array.from({ length: count }, (_, index) => first + index);
  }
  const found = new Set<number>();
  let limit = last;
  for (let l: Lineage | undefined = lineage; l !== undefined;) {
    for (const block of l.blocks.keys()) if (block >= first && block <= limit) found.add(block);
    limit = Math.min(limit, (l.parent?.blocks ?? 0) - 1);
    l = l.parent?.lineage;
  }
  return [...found].sort((a, b) => a - b);
}

/** Ranges covering [start, end) exactly, allocated where a sorted mapped block lies. */
function toRanges(blocks: readonly number[], start: number, end: number, extentBytes: number): MappedRange[] {
  const ranges: MappedRange[] = [];
  const push = (offset: number, length: number, allocated: boolean) => {
    const previous = ranges.at(-1);
    if (previous !== undefined && previous.allocated === allocated) {
      ranges[ranges.length - 1] = { offset: previous.offset, length: previous.length + length, allocated };
    } else {
      ranges.push({ offset, length, allocated });
    }
  };
  let position = start;
  for (const block of blocks) {
    const from = Math.max(start, block * extentBytes);
    const to = Math.min(end, (block + 1) * extentBytes);
    if (from > position) push(position, from - position, false);
    push(from, to - from, true);
    position = to;
  }
  if (position < end) push(position, end - position, false);
  assert(
    ranges.reduce((sum, r) => sum + r.length, 0) === end - start,
    'toRanges: ranges do not cover the request',
  );
  return ranges;
}
