// The read path: resolve each block of a device to its extent (or a hole) and read physically contiguous runs
// at once. Reads are tracked, so an extent freed meanwhile is not reused until they are done.
import { assert } from '../../base/assert.ts';
import { waitIdle } from './block-locks.ts';
import { checkRange, type Device } from './device.ts';
import { resolveBlock } from './lineage.ts';
import { TOMBSTONE } from './meta-db.ts';
import type { PoolCore } from './pool-core.ts';

/** Reads device `id` at `offset` into all of `out`; a volume's blocks under a mutation wait for it. */
export async function readInto(core: PoolCore, id: string, offset: number, out: Buffer): Promise<void> {
  core.checkOpen();
  const device = core.find(id);
  const length = out.length;
  checkRange(device, offset, length);
  if (length === 0) return;
  const extentBytes = core.extentBytes;
  const first = Math.floor(offset / extentBytes);
  const last = Math.floor((offset + length - 1) / extentBytes);
  if (device.kind === 'volume' && device.lineage.busy.size > 0) await waitIdle(device.lineage, first, last);
  const io = readRuns(core, device, out, offset, first, last);
  if (io !== null) await io;
}

/** Issues the reads of blocks [first, last], one per physically contiguous run; zero-fills holes. */
function readRuns(
  core: PoolCore,
  device: Device,
  out: Buffer,
  offset: number,
  first: number,
  last: number,
): Promise<unknown> | null {
  const extentBytes = core.extentBytes;
  const length = out.length;
  const io: Promise<void>[] = [];
  let runPosition = -1;
  let runStart = 0;
  let runLength = 0;
  for (let block = first; block <= last; block++) {
    const start = Math.max(offset, block * extentBytes);
    const end = Math.min(offset + length, (block + 1) * extentBytes);
    const extent = resolveBlock(device.lineage, device.gen, block);
    if (extent === TOMBSTONE) {
      out.fill(0, start - offset, end - offset);
      continue;
    }
    const position = extent * extentBytes + (start - block * extentBytes);
    if (runLength > 0 && runPosition + runLength === position && runStart + runLength === start - offset) {
      runLength += end - start;
      continue;
    }
    if (runLength > 0) io.push(readData(core, out, runStart, runLength, runPosition));
    runPosition = position;
    runStart = start - offset;
    runLength = end - start;
  }
  if (runLength > 0) io.push(readData(core, out, runStart, runLength, runPosition));
  return io.length === 0 ? null : io.length === 1 ? io[0]! : Promise.all(io);
}

/** Reads data; tracked so extents freed meanwhile are not reused until the read is done. */
export function readData(
  core: PoolCore,
  buffer: Buffer,
  offset: number,
  length: number,
  position: number,
): Promise<void> {
  assert(position + length <= core.allocator.highWater * core.extentBytes, 'readData: past high water');
  const epoch = core.reads.begin();
  const end = () => core.reads.end(epoch);
  return core.data.read(buffer, offset, length, position).then(
    (count) => {
      assert(count >= 0 && count <= length, 'read: bad count');
      if (count === length) return end();
      const rest = length - count;
      return readFully(core, buffer, offset + count, rest, position + count, count === 0).finally(end);
    },
    (error: unknown) => {
      end();
      throw error;
    },
  );
}

async function readFully(
  core: PoolCore,
  buffer: Buffer,
  offset: number,
  length: number,
  position: number,
  atEnd: boolean,
): Promise<void> {
  if (atEnd) {
    buffer.fill(0, offset, offset + length);
    return;
  }
  let done = 0;
  while (done < length) {
    const count = await core.data.read(buffer, offset + done, length - done, position + done);
    assert(count >= 0 && count <= length - done, 'read: bad count');
    // Past the end of the sparse file: a hole, reads as zeros.
    if (count === 0) {
      buffer.fill(0, offset + done, offset + length);
      return;
    }
    done += count;
  }
}
