// The pool's guard against a full file system (docs/storage.md, "Out of space"): the live file system, not a
// number fixed at creation, bounds new extents, with a headroom kept free; and a reserve file holds room for
// the metadata commit, given back when SQLite finds the disk full and taken again once space returns.
import { open, stat, statfs, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { assert } from '../../base/assert.ts';
import { limits } from '../../base/limits.ts';
import { isOutOfSpace } from '../../base/out-of-space.ts';

/** How full the pool's file system is: `high` past the warning mark, `full` when no new extent fits. */
export type Fullness = 'ok' | 'high' | 'full';

/** What the guard last saw of the file system, in bytes. */
export interface SpaceStatus {
  readonly fileSystemBytes: number;
  /** Free to an unprivileged writer (statfs bavail), less what the pool handed out since it looked. */
  readonly fileSystemFreeBytes: number;
  /** Whether the metadata reserve file holds its space (false: it was spent, new extents are refused). */
  readonly reserveHeld: boolean;
  readonly fullness: Fullness;
}

/** Where and how much: the defaults come from `limits`. */
export interface SpaceGuardOptions {
  readonly dir: string;
  readonly extentBytes: number;
  readonly reserveBytes?: number;
  readonly headroomBytes?: number;
}

/** The reserve file's name inside the pool directory (not part of the metadata format; fsck ignores it). */
export const reserveFileName = 'reserve';
const zeroChunkBytes = 1024 * 1024;

/** Tracks the file system's free space and owns the metadata reserve file. One per open pool. */
export class SpaceGuard {
  readonly #dir: string;
  readonly #path: string;
  readonly #extentBytes: number;
  readonly #reserveBytes: number;
  readonly #headroomBytes: number;
  #totalBytes = 0;
  #freeBytes = 0;
  /** Bytes of extents handed out since the last statfs began (it may not count them yet). */
  #spentBytes = 0;
  /** Bytes of extents handed out whose data write has not completed (the file system may not count them). */
  #inFlightBytes = 0;
  #reserveHeld = false;
  /** Extents the last refused write needed; 0 once a write got space again. */
  #refusedExtents = 0;
  #running: Promise<void> = Promise.resolve();
  #queued: Promise<void> | null = null;

  private constructor(options: SpaceGuardOptions) {
    assert(options.extentBytes > 0, 'space guard: no extent size');
    this.#dir = options.dir;
    this.#path = join(options.dir, reserveFileName);
    this.#extentBytes = options.extentBytes;
    this.#reserveBytes = options.reserveBytes ?? limits.storageMetaReserveBytes;
    this.#headroomBytes = options.headroomBytes ?? limits.storageHeadroomBytes;
    assert(this.#reserveBytes >= 0 && this.#headroomBytes >= 0, 'space guard: negative reserve');
  }

  /** Looks at the file system once and takes the reserve if there is room for it. */
  static async open(options: SpaceGuardOptions): Promise<SpaceGuard> {
    const guard = new SpaceGuard(options);
    await guard.refresh();
    return guard;
  }

  /** New extents the file system can take now, keeping the headroom; 0 while the reserve is spent. */
  extentsAvailable(): number {
    if (!this.#reserveHeld) return 0;
    const bytes = this.#freeBytes - this.#spentBytes - this.#headroomBytes;
    return bytes <= 0 ? 0 : Math.floor(bytes / this.#extentBytes);
  }

  /** Whether a control operation may add metadata: only while the reserve is held for its commit. */
  roomForMetadata(): boolean {
    return this.#reserveHeld;
  }

  /** Counts `extents` just handed out; call `settled` once their data writes completed or failed. */
  spend(extents: number): void {
    assert(Number.isSafeInteger(extents) && extents >= 0, 'spend: bad count');
    if (extents > 0) this.#refusedExtents = 0;
    this.#spentBytes += extents * this.#extentBytes;
    this.#inFlightBytes += extents * this.#extentBytes;
  }

  /** Notes a write refused for want of `extents`: the pool counts as full until there is room for it. */
  refused(extents: number): void {
    assert(extents > 0, 'refused: nothing needed');
    this.#refusedExtents = extents;
  }

  /** The data writes of `extents` spent extents are done (the file system counts them from now on). */
  settled(extents: number): void {
    this.#inFlightBytes -= extents * this.#extentBytes;
    assert(this.#inFlightBytes >= 0, 'settled: more than was spent');
  }

  /** Samples statfs in a sample that begins after this call, and takes the reserve back once there is room. */
  refresh(): Promise<void> {
    // One sample at a time; callers that arrive while one runs share the next (it sees what they freed).
    if (this.#queued !== null) return this.#queued;
    const next = this.#running.then(() => {
      this.#queued = null;
      return this.#sample();
    });
    this.#queued = next;
    this.#running = next.catch(() => undefined);
    return next;
  }

  async #sample(): Promise<void> {
    const spentBefore = this.#spentBytes;
    const inFlightBefore = this.#inFlightBytes;
    const fs = await statfs(this.#dir);
    // Extents handed out while statfs ran, and writes still in flight when it began, may be missing from it.
    this.#spentBytes = this.#spentBytes - spentBefore + inFlightBefore;
    this.#freeBytes = fs.bavail * fs.bsize;
    this.#totalBytes = fs.blocks * fs.bsize;
    if (!this.#reserveHeld) await this.#takeReserve();
  }

  async #takeReserve(): Promise<void> {
    const held = await allocatedBytes(this.#path);
    if (held >= this.#reserveBytes) {
      this.#reserveHeld = true;
      return;
    }
    const missing = this.#reserveBytes - held;
    if (this.#freeBytes - this.#spentBytes < missing + this.#headroomBytes) return;
    try {
      await writeZeros(this.#path, this.#reserveBytes);
    } catch (error) {
      if (!isOutOfSpace(error)) throw error;
      await truncate(this.#path, 0);
      return;
    }
    this.#freeBytes -= missing;
    this.#reserveHeld = true;
  }

  /** Gives the reserve's space back to the file system (SQLite found it full); false if none was held. */
  async releaseReserve(): Promise<boolean> {
    const held = await allocatedBytes(this.#path);
    this.#reserveHeld = false;
    if (held === 0) return false;
    await truncate(this.#path, 0);
    this.#freeBytes += held;
    return true;
  }

  /** What the last sample saw. */
  status(): SpaceStatus {
    const free = Math.max(0, this.#freeBytes - this.#spentBytes);
    const total = this.#totalBytes;
    const usedPercent = total === 0 ? 100 : ((total - free) * 100) / total;
    const available = this.extentsAvailable();
    const full = available === 0 || available < this.#refusedExtents;
    const fullness: Fullness = full ? 'full' : usedPercent > limits.storageFullWarnPercent ? 'high' : 'ok';
    return { fileSystemBytes: total, fileSystemFreeBytes: free, reserveHeld: this.#reserveHeld, fullness };
  }
}

async function allocatedBytes(path: string): Promise<number> {
  try {
    return (await stat(path)).blocks * 512;
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return 0;
    throw error;
  }
}

// Zeros, not a hole: written blocks are allocated at write time (ext4 and XFS reserve them under delayed
// allocation, tmpfs at once), which is all a reservation needs; no fsync, as open checks the file again.
async function writeZeros(path: string, lengthBytes: number): Promise<void> {
  const handle = await open(path, 'w');
  try {
    const zeros = Buffer.alloc(Math.min(zeroChunkBytes, Math.max(1, lengthBytes)));
    for (let done = 0; done < lengthBytes; done += zeros.length) {
      await handle.write(zeros, 0, Math.min(zeros.length, lengthBytes - done), done);
    }
  } finally {
    await handle.close();
  }
}
