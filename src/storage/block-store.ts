// The block store's interface: what the rest of Strata (nbd/, cloud/, cli/) may rely on. A leaf: it imports
// no implementation (storage/pool/ imports it); open-block-store.ts is the one way in to the pool.
import type { Logger } from '../base/log.ts';

/** A device is a volume (read-write) or a snapshot (read-only). Ids are chosen by the caller (vol-…, snap-…). */
export type DeviceKind = 'volume' | 'snapshot';

/** What the store knows of one device. */
export interface DeviceInfo {
  readonly id: string;
  readonly kind: DeviceKind;
  /** Size in bytes; a multiple of 512. */
  readonly sizeBytes: number;
  /** For a volume cloned from a snapshot, or a snapshot of a volume: that parent's id. */
  readonly parentId: string | null;
}

/** A byte range of a device and whether it holds data. */
export interface MappedRange {
  readonly offset: number;
  readonly length: number;
  /** True where the range is backed by pool extents; false for holes (never written, or trimmed). */
  readonly allocated: boolean;
}

/** Pool-wide capacity and usage, in bytes. */
export interface PoolUsage {
  readonly extentBytes: number;
  readonly capacityBytes: number;
  readonly usedBytes: number;
  /** Extents freed but not yet reusable (waiting for their free to commit, or for background reclaim). */
  readonly pendingFreeBytes: number;
  /** Bytes new extents may take now: the capacity left, bounded by the file system's free space less a headroom. */
  readonly availableBytes: number;
}

/** Per-device usage, in bytes. */
export interface DeviceUsage {
  /** Bytes the device's view maps to extents, its own or inherited. */
  readonly mappedBytes: number;
  /** Bytes held by extents that only this device's lineage owns (what deleting it could free at most). */
  readonly ownedBytes: number;
}

/** Options of a write. `fua`: durable before the promise resolves. */
export interface WriteOptions {
  readonly fua?: boolean;
}

/** Options of a zeroing write. `noHole`: keep the range allocated (write real zeros). */
export interface ZeroOptions extends WriteOptions {
  readonly noHole?: boolean;
}

/** Typed error codes the store raises for operating errors (never for bugs, which assert). */
export type StoreErrorCode =
  | 'ENOSPC' // the pool has no free extent for a write that needs one
  | 'ENOENT' // no such device
  | 'EEXIST' // the id is taken
  | 'EROFS' // write to a snapshot
  | 'EINVAL' // bad offset, length or size (past the end, not 512-aligned where required, shrink)
  | 'EBUSY'; // the device is in use in a way the call forbids

/** The one error class of the store; `code` says which operating error it is. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A thin-provisioned copy-on-write block store.
 *
 * Durability contract: that of a disk with a volatile write cache. A write that resolved is visible to
 * reads at once; it is durable after `flush()` resolves, or when it was written with `fua`. Control
 * operations (create, resize, snapshot, clone, delete) are durable when they resolve.
 */
export interface BlockStore {
  /** Extent (allocation unit) size in bytes, fixed when the pool was created. */
  readonly extentBytes: number;

  /** Capacity and usage of the whole pool. */
  usage(): PoolUsage;
  /** Grows the pool's capacity; never shrinks. */
  grow(capacityBytes: number): Promise<void>;

  /** Metadata of one device, or undefined. */
  device(id: string): DeviceInfo | undefined;
  /** Every device, volumes and snapshots. */
  devices(): DeviceInfo[];

  /** Creates an empty volume that reads as zeros. */
  createVolume(id: string, sizeBytes: number): Promise<void>;
  /** Grows a volume; the new space reads as zeros. */
  resizeVolume(id: string, sizeBytes: number): Promise<void>;
  /** Deletes a volume; its snapshots and clones stay intact. Space is reclaimed in the background. */
  deleteVolume(id: string): Promise<void>;
  /** Takes a point-in-time, read-only snapshot of a volume, in O(1). Durable when it resolves. */
  snapshot(volumeId: string, snapshotId: string): Promise<void>;
  /** Makes a writable volume from a snapshot, in O(1); `sizeBytes` defaults to the snapshot's and may be larger. */
  clone(snapshotId: string, volumeId: string, sizeBytes?: number): Promise<void>;
  /** Deletes a snapshot; volumes, clones and other snapshots stay intact. */
  deleteSnapshot(id: string): Promise<void>;

  /** Reads `length` bytes at `offset` (any alignment). Holes read as zeros. */
  read(id: string, offset: number, length: number): Promise<Buffer>;
  /**
   * Reads `out.length` bytes at `offset` into `out`, overwriting all of it (NBD reads into recycled buffers).
   * The store keeps no reference to `out` once the promise settles.
   */
  readInto(id: string, offset: number, out: Buffer): Promise<void>;
  /**
   * Writes `data` at `offset` (any alignment) of a volume. The store does not keep `data` once the promise
   * settles, so the caller may reuse the buffer (the NBD server recycles its payload buffers).
   */
  write(id: string, offset: number, data: Buffer, options?: WriteOptions): Promise<void>;
  /** Discards a range: whole extents are unmapped, partial extents zeroed. Reads as zeros afterwards. */
  trim(id: string, offset: number, length: number, options?: WriteOptions): Promise<void>;
  /** Zeroes a range; with `noHole` the range stays allocated. */
  writeZeroes(id: string, offset: number, length: number, options?: ZeroOptions): Promise<void>;
  /** Makes every write that resolved before this call durable. */
  flush(): Promise<void>;

  /** Allocation map of a byte range, as sorted, contiguous, coalesced ranges covering exactly the request. */
  mapRange(id: string, offset: number, length: number): MappedRange[];
  /**
   * Byte ranges (extent granularity) whose contents may differ between two devices of one lineage.
   * `fromId` null means "against an empty device". Never misses a changed range.
   */
  diff(fromId: string | null, toId: string): MappedRange[];
  /** Usage of one device. */
  deviceUsage(id: string): DeviceUsage;

  /** Calls `listener` when a device is deleted (so NBD can end its connections). Returns an unsubscribe. */
  onDeviceRemoved(listener: (id: string) => void): () => void;

  /** Flushes, commits and closes the pool. */
  close(): Promise<void>;
}

/** How to open a pool. Opening an existing pool ignores the creation options, except growing `capacityBytes`. */
export interface OpenBlockStoreOptions {
  /** The pool directory (`<data-dir>/pool`); created if missing. */
  readonly dir: string;
  /** Pool capacity (a quota); default at creation: none, the file system's free space bounds the pool. */
  readonly capacityBytes?: number;
  /** Extent size, fixed at creation; default `limits.extentBytesDefault` (64 KiB). */
  readonly extentBytes?: number;
  /** Where background failures (commit errors) are logged; default silent. */
  readonly logger?: Logger;
}
