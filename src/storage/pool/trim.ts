// Trim (discard) and write-zeroes: whole blocks are unmapped without writing data (a tombstone where an older
// view still needs the row below); the partial blocks at either end are zero-written through the write path.
import { assert } from '../../base/assert.ts';
import { limits } from '../../base/limits.ts';
import type { WriteOptions, ZeroOptions } from '../block-store.ts';
import { lockBlocks, tryLockBlocks } from './block-locks.ts';
import { checkRange } from './device.ts';
import { noChanges, type Changes } from './group-commit.ts';
import { resolveBlock, type Lineage } from './lineage.ts';
import { candidateBlocks } from './maps.ts';
import { TOMBSTONE } from './meta-db.ts';
import type { PoolCore } from './pool-core.ts';
import { enter, leave } from './write-gate.ts';
import { dropIfHidden, writeRange } from './write-path.ts';

/** Largest zero buffer a zeroing call allocates at once. */
const zeroChunkBytes = limits.nbdPayloadBytesMax;

/** Makes [offset, offset + length) of volume `id` read as zeros, freeing what it can. */
export async function trim(
  core: PoolCore,
  id: string,
  offset: number,
  length: number,
  options?: WriteOptions,
): Promise<void> {
  core.checkOpen();
  const device = core.volume(id);
  checkRange(device, offset, length);
  if (length > 0) {
    const entering = enter(core.devices, device);
    if (entering !== undefined) await entering;
    try {
      await trimRange(core, device.lineage, offset, length);
    } finally {
      leave(device);
    }
  }
  if (options?.fua === true) await core.commit();
}

/** Zeroes a range: a trim, unless `noHole` asks for allocated zeros (written in bounded chunks). */
export async function writeZeroes(
  core: PoolCore,
  id: string,
  offset: number,
  length: number,
  options?: ZeroOptions,
): Promise<void> {
  if (options?.noHole !== true) return trim(core, id, offset, length, options);
  core.checkOpen();
  const device = core.volume(id);
  checkRange(device, offset, length);
  const entering = enter(core.devices, device);
  if (entering !== undefined) await entering;
  try {
    const zeros = Buffer.alloc(Math.min(length, zeroChunkBytes));
    for (let done = 0; done < length; done += zeros.length) {
      const chunk = Math.min(zeros.length, length - done);
      await writeRange(core, device.lineage, offset + done, zeros.subarray(0, chunk), false);
    }
  } finally {
    leave(device);
  }
  if (options?.fua === true) await core.commit();
}

async function trimRange(core: PoolCore, lineage: Lineage, offset: number, length: number): Promise<void> {
  const extentBytes = core.extentBytes;
  const end = offset + length;
  const wholeFirst = Math.ceil(offset / extentBytes);
  const wholeEnd = Math.floor(end / extentBytes);
  if (wholeFirst >= wholeEnd) {
    await writeRange(core, lineage, offset, Buffer.alloc(length), true);
    return;
  }
  if (offset < wholeFirst * extentBytes) {
    await writeRange(core, lineage, offset, Buffer.alloc(wholeFirst * extentBytes - offset), true);
  }
  const blocks = candidateBlocks(lineage, wholeFirst, wholeEnd - 1);
  const unlock = tryLockBlocks(lineage, blocks) ?? (await lockBlocks(lineage, blocks));
  try {
    const changes = noChanges();
    for (const block of blocks) unmapBlock(core, lineage, block, changes);
    core.commits.record(changes);
  } finally {
    unlock();
  }
  if (end > wholeEnd * extentBytes) {
    const tail = wholeEnd * extentBytes;
    await writeRange(core, lineage, tail, Buffer.alloc(end - tail), true);
  }
}

/** Makes block `block` of the volume read as zeros without writing data. */
function unmapBlock(core: PoolCore, lineage: Lineage, block: number, changes: Changes): void {
  if (resolveBlock(lineage, Infinity, block) === TOMBSTONE) return;
  const gen = lineage.gen;
  const chain = lineage.blocks.get(block);
  const head = chain?.[0];
  if (chain !== undefined && head !== undefined && head.birth === gen) {
    assert(head.extent !== TOMBSTONE, 'unmap: tombstone head resolves to data');
    core.free(head.extent, changes);
    const below = chain[1];
    const belowIsZero = below !== undefined ? below.extent === TOMBSTONE : parentIsZero(lineage, block);
    if (belowIsZero) {
      chain.shift();
      if (chain.length === 0) lineage.blocks.delete(block);
      changes.rows.push([lineage.id, block, gen, null]);
    } else {
      head.extent = TOMBSTONE;
      changes.rows.push([lineage.id, block, gen, TOMBSTONE]);
    }
    return;
  }
  const newChain = chain ?? [];
  if (chain === undefined) lineage.blocks.set(block, newChain);
  newChain.unshift({ birth: gen, extent: TOMBSTONE });
  changes.rows.push([lineage.id, block, gen, TOMBSTONE]);
  dropIfHidden(core, lineage, block, newChain, changes);
}

function parentIsZero(lineage: Lineage, block: number): boolean {
  const parent = lineage.parent;
  if (parent === null || block >= parent.blocks) return true;
  return resolveBlock(parent.lineage, parent.gen, block) === TOMBSTONE;
}
