// The "pool space" line of `strata doctor`: how full the data dir's file system is, what the pool's data
// takes on disk, and whether the pool's metadata reserve is held (docs/storage.md, "Out of space"). It reads
// only file sizes and statfs, so it works while the daemon holds the pool.
import { stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { limits, units } from '../base/limits.ts';

/** What `strata doctor` prints for the pool's space; `warning` when past the high-water mark or the reserve is spent. */
export interface PoolSpaceReport {
  readonly usedPercent: number;
  readonly fileSystemBytes: number;
  readonly freeBytes: number;
  /** Bytes the pool's data file holds on disk (holes excluded); 0 without a pool. */
  readonly poolDataBytes: number;
  /** Whether the metadata reserve file holds its space; null without a pool. */
  readonly reserveHeld: boolean | null;
  readonly warning: boolean;
  readonly detail: string;
}

/** Reports on `<dataDir>/pool`, judging the file system by `dataDir` (which must exist). */
export async function poolSpace(dataDir: string): Promise<PoolSpaceReport> {
  const fs = await statfs(dataDir);
  const fileSystemBytes = fs.blocks * fs.bsize;
  const freeBytes = fs.bavail * fs.bsize;
  // As df counts it: used over what an unprivileged writer could ever have (used + available).
  const usedBytes = (fs.blocks - fs.bfree) * fs.bsize;
  const usedPercent = usedBytes + freeBytes === 0 ? 100 : (usedBytes * 100) / (usedBytes + freeBytes);
  const poolDataBytes = (await allocatedBytes(join(dataDir, 'pool', 'data'))) ?? 0;
  const reserve = await allocatedBytes(join(dataDir, 'pool', 'reserve'));
  const reserveHeld = reserve === null ? null : reserve >= limits.storageMetaReserveBytes;
  const mark = limits.storageFullWarnPercent;
  const warning = usedPercent > mark || reserveHeld === false;
  const parts = [
    `file system ${usedPercent.toFixed(0)}% full (${gib(freeBytes)} of ${gib(fileSystemBytes)} free)`,
    `pool data ${gib(poolDataBytes)} on disk`,
    reserveHeld === null ? 'no pool yet' : reserveHeld ? 'metadata reserve held' : 'metadata reserve SPENT',
  ];
  if (usedPercent > mark) parts.push(`over the ${mark}% high-water mark: free space before writes fail`);
  if (reserveHeld === false) parts.push('new extents are refused until space is freed');
  return {
    usedPercent,
    fileSystemBytes,
    freeBytes,
    poolDataBytes,
    reserveHeld,
    warning,
    detail: parts.join('; '),
  };
}

function gib(bytes: number): string {
  return `${(bytes / units.GiB).toFixed(2)} GiB`;
}

async function allocatedBytes(path: string): Promise<number | null> {
  try {
    return (await stat(path)).blocks * 512;
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return null;
    throw error;
  }
}
