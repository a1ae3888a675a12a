// The write path: lock the blocks, plan every block's mapping synchronously (in place, a new extent, or a
// copy-on-write), issue the data I/O, and record the metadata changes only once that I/O completed (so a
// commit never runs ahead of its data; docs/storage.md, "Durability argument").
import { assert } from '../../base/assert.ts';
import { isOutOfSpace } from '../../base/out-of-space.ts';
import { StoreError, type WriteOptions } from '../block-store.ts';
import { lockBlocks, tryLockBlocks } from './block-locks.ts';
import { checkRange } from './device.ts';
import { noChanges, type Changes } from './group-commit.ts';
import { resolveBlock, type Lineage, type Row } from './lineage.ts';
import { TOMBSTONE } from './meta-db.ts';
import type { PoolCore } from './pool-core.ts';
import { readData } from './read-path.ts';
import { enter, leave } from './write-gate.ts';

/** A write of `data[from, from + length)` at file `position`, with no read first. */
interface Direct {
  readonly position: number;
  readonly from: number;
  readonly length: number;
}

/** Writes `data` at `offset` of volume `id`; with `fua`, durable when it resolves. */
export async function write(
  core: PoolCore,
  id: string,
  offset: number,
  data: Buffer,
  options?: WriteOptions,
): Promise<void> {
  core.checkOpen();
  const device = core.volume(id);
  checkRange(device, offset, data.length);
  if (data.length > 0) {
    const entering = enter(core.devices, device);
    if (entering !== undefined) await entering;
    try {
      await writeRange(core, device.lineage, offset, data, false);
    } finally {
      leave(device);
    }
  }
  if (options?.fua === true) await core.commit();
}

/** Writes `data` at `offset` of the volume of `lineage`; `zeroing` skips blocks that already read as zeros. */
export async function writeRange(
  core: PoolCore,
  lineage: Lineage,
  offset: number,
  data: Buffer,
  zeroing: boolean,
): Promise<void> {
  const extentBytes = core.extentBytes;
  const first = Math.floor(offset / extentBytes);
  const last = Math.floor((offset + data.length - 1) / extentBytes);
  const blocks: number[] = [];
  for (let block = first; block <= last; block++) blocks.push(block);
  for (let attempt = 0; ; attempt++) {
    const unlock = tryLockBlocks(lineage, blocks) ?? (await lockBlocks(lineage, blocks));
    let needed = 0;
    for (const block of blocks) if (needsExtent(lineage, block, zeroing)) needed++;
    if (needed <= core.available()) {
      try {
        await writeLocked(core, lineage, blocks, offset, data, zeroing);
      } finally {
        unlock();
      }
      return;
    }
    unlock();
    if (attempt > 0) {
      core.space.refused(needed);
      core.reportFullness();
      throw new StoreError('ENOSPC', `pool full: write needs ${needed} extents, ${core.available()} free`);
    }
    await makeRoom(core);
  }
}

/** Plans and writes locked blocks; if the data I/O fails, puts every planned change back (nothing recorded). */
async function writeLocked(
  core: PoolCore,
  lineage: Lineage,
  blocks: readonly number[],
  offset: number,
  data: Buffer,
  zeroing: boolean,
): Promise<void> {
  const changes = noChanges();
  const io = writeBlocks(core, { lineage, offset, data, zeroing, changes }, blocks);
  const spent = changes.taken.length;
  core.space.spend(spent);
  try {
    await Promise.all(io);
  } catch (error) {
    await Promise.allSettled(io);
    undo(core, lineage, changes);
    if (!isOutOfSpace(error)) throw error;
    throw new StoreError('ENOSPC', `the pool's file system is full: ${(error as Error).message}`);
  } finally {
    core.space.settled(spent);
  }
  core.commits.record(changes);
}

/** A write whose data I/O failed leaves no trace: chains, extents and the owned count go back. */
function undo(core: PoolCore, lineage: Lineage, changes: Changes): void {
  for (const [block, chain] of changes.undo) {
    if (chain.length === 0) lineage.blocks.delete(block);
    else lineage.blocks.set(block, chain);
  }
  core.owned += changes.freed.length - changes.taken.length;
  // Durably free still (fresh ones went into the batch as free with the high-water mark), so reusable now.
  core.allocator.release(changes.taken);
  assert(core.owned >= 0, 'undo: negative owned count');
}

/** Before a write reports ENOSPC: reclaim and commit what is pending, and look at the file system again. */
async function makeRoom(core: PoolCore): Promise<void> {
  const { commits, reclaims } = core;
  if (commits.pendingFree.length > 0 || commits.releasing > 0 || reclaims.pending > 0) {
    reclaims.runAll();
    await core.commit();
    await commits.releaseChain;
  }
  await core.space.refresh();
}

function needsExtent(lineage: Lineage, block: number, zeroing: boolean): boolean {
  const head = lineage.blocks.get(block)?.[0];
  if (head !== undefined && head.birth === lineage.gen && head.extent !== TOMBSTONE) return false;
  return !(zeroing && resolveBlock(lineage, Infinity, block) === TOMBSTONE);
}

/** One write being planned: where it goes, its data, and the changes it collects. */
interface WritePlan {
  readonly lineage: Lineage;
  readonly offset: number;
  readonly data: Buffer;
  readonly zeroing: boolean;
  readonly changes: Changes;
}

/** Plans every block synchronously, then issues the I/O; physically contiguous direct writes become one. */
function writeBlocks(core: PoolCore, plan: WritePlan, blocks: readonly number[]): Promise<void>[] {
  const { data } = plan;
  const io: Promise<void>[] = [];
  let run: Direct | null = null;
  for (const block of blocks) {
    const step = writeBlock(core, plan, block);
    if (step === null) continue;
    if (step instanceof Promise) {
      io.push(step);
    } else if (
      run !== null &&
      run.position + run.length === step.position &&
      run.from + run.length === step.from
    ) {
      run = { position: run.position, from: run.from, length: run.length + step.length };
    } else {
      if (run !== null)
        io.push(writeData(core, data.subarray(run.from, run.from + run.length), run.position));
      run = step;
    }
  }
  if (run !== null) io.push(writeData(core, data.subarray(run.from, run.from + run.length), run.position));
  return io;
}

/** Decides block `block`'s mapping synchronously; returns a direct write of `data`, a copy-on-write, or null. */
function writeBlock(core: PoolCore, plan: WritePlan, block: number): Direct | Promise<void> | null {
  const { lineage, offset, data, zeroing, changes } = plan;
  const extentBytes = core.extentBytes;
  const blockStart = block * extentBytes;
  const start = Math.max(offset, blockStart);
  const end = Math.min(offset + data.length, blockStart + extentBytes);
  const inner = start - blockStart;
  const slice = data.subarray(start - offset, end - offset);
  const gen = lineage.gen;
  let chain = lineage.blocks.get(block);
  const head = chain?.[0];
  if (head !== undefined && head.birth === gen && head.extent !== TOMBSTONE) {
    return { position: head.extent * extentBytes + inner, from: start - offset, length: end - start };
  }
  const source = resolveBlock(lineage, Infinity, block);
  if (zeroing && source === TOMBSTONE) return null;
  changes.undo.push([block, chain === undefined ? [] : chain.map((row) => ({ ...row }))]);
  const { extent, fresh } = core.allocator.allocate();
  core.owned++;
  if (fresh) {
    // The hole is durable as "free" first, so a crash before this write commits cannot leak it.
    core.commits.batch.pool.set('high_water', core.allocator.highWater);
    core.commits.batch.free.set(extent, true);
  }
  changes.taken.push(extent);
  changes.rows.push([lineage.id, block, gen, extent]);
  if (chain === undefined) lineage.blocks.set(block, (chain = []));
  if (head !== undefined && head.birth === gen) {
    head.extent = extent;
  } else {
    chain.unshift({ birth: gen, extent });
    dropIfHidden(core, lineage, block, chain, changes);
  }
  const position = extent * extentBytes;
  if (slice.length === extentBytes) return { position, from: start - offset, length: extentBytes };
  // Written whole even when fresh (dm-thin zeroes new blocks too): an owned extent is then fully allocated in
  // the file system, so in-place writes to it never need space the pool did not count.
  return copyOnWrite(core, extent, source, inner, slice);
}

/** A partial write to a new extent: old contents (or zeros) around the new data, written whole. */
async function copyOnWrite(
  core: PoolCore,
  extent: number,
  source: number,
  inner: number,
  slice: Buffer,
): Promise<void> {
  const extentBytes = core.extentBytes;
  const position = extent * extentBytes;
  // A reused extent holds stale bytes: write all of it, old contents (or zeros) around the new data.
  const whole = source === TOMBSTONE ? Buffer.alloc(extentBytes) : Buffer.allocUnsafe(extentBytes);
  if (source !== TOMBSTONE) await readData(core, whole, 0, extentBytes, source * extentBytes);
  slice.copy(whole, inner);
  await writeData(core, whole, position);
}

async function writeData(core: PoolCore, buffer: Buffer, position: number): Promise<void> {
  const extentBytes = core.extentBytes;
  assert(position >= 0 && buffer.length > 0, 'writeData: bad position');
  assert(position + buffer.length <= core.allocator.highWater * extentBytes, 'writeData: past high water');
  await core.data.write(buffer, 0, buffer.length, position);
  core.commits.dataDirty = true;
}

/** After a new head row: frees the previous head if no view can see it any more. */
export function dropIfHidden(
  core: PoolCore,
  lineage: Lineage,
  block: number,
  chain: Row[],
  changes: Changes,
): void {
  const previous = chain[1];
  if (previous === undefined || lineage.isVisible(chain, 1)) return;
  chain.splice(1, 1);
  changes.rows.push([lineage.id, block, previous.birth, null]);
  if (previous.extent !== TOMBSTONE) core.free(previous.extent, changes);
}
