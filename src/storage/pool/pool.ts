// The block store: a sparse data file of extents plus a birth-generation mapping index (see docs/storage.md).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { limits } from '../../base/limits.ts';
import { silentLogger, type Logger } from '../../base/log.ts';
import {
  StoreError,
  type BlockStore,
  type DeviceInfo,
  type DeviceUsage,
  type MappedRange,
  type PoolUsage,
  type WriteOptions,
  type ZeroOptions,
} from '../block-store.ts';
import * as control from './control.ts';
import { openRealDataFile, type DataFile } from './data-file.ts';
import { checkRange, info } from './device.ts';
import { deviceUsage, diff, mapRange } from './maps.ts';
import { Batch, MetaDb, metaFormatVersion } from './meta-db.ts';
import { PoolCore, type PoolParts } from './pool-core.ts';
import { readInto } from './read-path.ts';
import { SpaceGuard, type SpaceStatus } from './space-guard.ts';
import { trim, writeZeroes } from './trim.ts';
import { write } from './write-path.ts';

/** How to open (or create) a pool. Creation options are ignored for an existing pool, except capacity growth. */
export interface PoolOptions {
  readonly dir: string;
  readonly capacityBytes?: number;
  readonly extentBytes?: number;
  readonly logger?: Logger;
  /** Test hook: the data file to use instead of `<dir>/data` (e.g. a LossyDataFile). */
  readonly dataFile?: DataFile;
}

/** Opens or creates the pool in `options.dir`. */
export async function openPool(options: PoolOptions): Promise<Pool> {
  await mkdir(options.dir, { recursive: true });
  const meta = openMeta(join(options.dir, 'meta.db'));
  try {
    let snapshot = meta.load();
    if (!snapshot.pool.has('format_version')) {
      meta.apply(initialBatch(options));
      snapshot = meta.load();
    }
    const version = snapshot.pool.get('format_version');
    if (version !== metaFormatVersion)
      throw new StoreError('EINVAL', `pool format ${version} is not ${metaFormatVersion}`);
    const extentBytes = snapshot.pool.get('extent_bytes')!;
    const space = await SpaceGuard.open({ dir: options.dir, extentBytes });
    const data = options.dataFile ?? (await openRealDataFile(join(options.dir, 'data')));
    const pool = new Pool({ meta, data, snapshot, log: options.logger ?? silentLogger, space });
    await pool.prepare(options.capacityBytes);
    return pool;
  } catch (error) {
    meta.close();
    throw error;
  }
}

function openMeta(path: string): MetaDb {
  try {
    return new MetaDb(path);
  } catch (error) {
    if ((error as { code?: string }).code === 'SQLITE_BUSY') {
      throw new StoreError('EBUSY', `the pool at ${path} is open in another process`);
    }
    throw error;
  }
}

function initialBatch(options: PoolOptions): Batch {
  const extentBytes = options.extentBytes ?? limits.extentBytesDefault;
  const powerOfTwo = (extentBytes & (extentBytes - 1)) === 0;
  if (
    !Number.isSafeInteger(extentBytes) ||
    !powerOfTwo ||
    extentBytes < limits.extentBytesMin ||
    extentBytes > limits.extentBytesMax
  ) {
    const range = `[${limits.extentBytesMin}, ${limits.extentBytesMax}]`;
    throw new StoreError(
      'EINVAL',
      `extent size must be a power of two in ${range} bytes: got ${extentBytes}`,
    );
  }
  // No quota unless asked for: the live file system bounds the pool (space-guard.ts), not a number fixed now.
  const capacityBytes = options.capacityBytes ?? limits.poolCapacityBytesUnbounded;
  if (!Number.isSafeInteger(capacityBytes) || capacityBytes < extentBytes) {
    throw new StoreError('EINVAL', `capacity must hold at least one extent: got ${capacityBytes}`);
  }
  const batch = new Batch();
  batch.pool.set('format_version', metaFormatVersion);
  batch.pool.set('extent_bytes', extentBytes);
  batch.pool.set('capacity_extents', Math.floor(capacityBytes / extentBytes));
  batch.pool.set('high_water', 0);
  batch.pool.set('next_lineage', 1);
  return batch;
}

/**
 * The BlockStore implementation. Construct through `openPool`. A facade over the pool's parts, which share one
 * PoolCore: control.ts (create, snapshot, clone, delete), write-path.ts, trim.ts, read-path.ts and maps.ts.
 */
export class Pool implements BlockStore {
  readonly extentBytes: number;
  readonly #core: PoolCore;
  readonly #timer: NodeJS.Timeout;

  constructor(parts: Omit<PoolParts, 'onReclaimIdle'>) {
    this.#core = new PoolCore({ ...parts, onReclaimIdle: () => this.#tick() });
    this.extentBytes = this.#core.extentBytes;
    this.#timer = setInterval(() => this.#tick(), limits.storageCommitIntervalMs);
    this.#timer.unref();
  }

  /** Finishes opening: turns extents past the committed high-water mark back into holes, grows, reclaims. */
  async prepare(capacityBytes: number | undefined): Promise<void> {
    const core = this.#core;
    const committedBytes = core.allocator.highWater * this.extentBytes;
    if ((await core.data.sizeBytes()) > committedBytes) await core.data.truncate(committedBytes);
    if (capacityBytes !== undefined && capacityBytes > this.usage().capacityBytes)
      await this.grow(capacityBytes);
    // Finish reclaims a crash interrupted (cheap: the index is in memory already).
    core.reclaims.queue(core.lineages.values());
    core.reportFullness();
  }

  /** {@inheritDoc BlockStore.usage} */
  usage(): PoolUsage {
    const { extentBytes, allocator, owned, commits } = this.#core;
    return {
      extentBytes,
      capacityBytes: allocator.capacityExtents * extentBytes,
      usedBytes: owned * extentBytes,
      pendingFreeBytes: (commits.pendingFree.length + commits.releasing) * extentBytes,
      availableBytes: this.#core.available() * extentBytes,
    };
  }

  /** What the pool last saw of its file system: free space, the metadata reserve, fullness. */
  space(): SpaceStatus {
    return this.#core.space.status();
  }

  /** {@inheritDoc BlockStore.grow} */
  async grow(capacityBytes: number): Promise<void> {
    const core = this.#core;
    const extents = Math.floor(capacityBytes / this.extentBytes);
    if (!Number.isSafeInteger(capacityBytes) || extents < core.allocator.capacityExtents) {
      throw new StoreError('EINVAL', `pool capacity never shrinks: asked ${capacityBytes} bytes`);
    }
    await control.exclusive(core, async () => {
      core.allocator.grow(extents);
      core.commits.batch.pool.set('capacity_extents', extents);
      await this.commit();
    });
  }

  /** {@inheritDoc BlockStore.device} */
  device(id: string): DeviceInfo | undefined {
    const device = this.#core.devices.get(id);
    return device === undefined ? undefined : info(device);
  }

  /** {@inheritDoc BlockStore.devices} */
  devices(): DeviceInfo[] {
    return [...this.#core.devices.values()].map(info);
  }

  // ---- control operations (control.ts): serialised, durable when they resolve ----

  /** {@inheritDoc BlockStore.createVolume} */
  createVolume(id: string, sizeBytes: number): Promise<void> {
    return control.createVolume(this.#core, id, sizeBytes);
  }

  /** {@inheritDoc BlockStore.resizeVolume} */
  resizeVolume(id: string, sizeBytes: number): Promise<void> {
    return control.resizeVolume(this.#core, id, sizeBytes);
  }

  /** {@inheritDoc BlockStore.deleteVolume} */
  deleteVolume(id: string): Promise<void> {
    return control.deleteVolume(this.#core, id);
  }

  /** {@inheritDoc BlockStore.snapshot} */
  snapshot(volumeId: string, snapshotId: string): Promise<void> {
    return control.snapshot(this.#core, volumeId, snapshotId);
  }

  /** {@inheritDoc BlockStore.clone} */
  clone(snapshotId: string, volumeId: string, sizeBytes?: number): Promise<void> {
    return control.clone(this.#core, snapshotId, volumeId, sizeBytes);
  }

  /** {@inheritDoc BlockStore.deleteSnapshot} */
  deleteSnapshot(id: string): Promise<void> {
    return control.deleteSnapshot(this.#core, id);
  }

  // ---- data path (read-path.ts, write-path.ts, trim.ts) ----

  /** {@inheritDoc BlockStore.read} */
  async read(id: string, offset: number, length: number): Promise<Buffer> {
    const out = Buffer.allocUnsafe(length);
    await readInto(this.#core, id, offset, out);
    return out;
  }

  /** {@inheritDoc BlockStore.readInto} */
  readInto(id: string, offset: number, out: Buffer): Promise<void> {
    return readInto(this.#core, id, offset, out);
  }

  /** {@inheritDoc BlockStore.write} */
  write(id: string, offset: number, data: Buffer, options?: WriteOptions): Promise<void> {
    return write(this.#core, id, offset, data, options);
  }

  /** {@inheritDoc BlockStore.trim} */
  trim(id: string, offset: number, length: number, options?: WriteOptions): Promise<void> {
    return trim(this.#core, id, offset, length, options);
  }

  /** {@inheritDoc BlockStore.writeZeroes} */
  writeZeroes(id: string, offset: number, length: number, options?: ZeroOptions): Promise<void> {
    return writeZeroes(this.#core, id, offset, length, options);
  }

  // ---- maps (maps.ts) ----

  /** {@inheritDoc BlockStore.mapRange} */
  mapRange(id: string, offset: number, length: number): MappedRange[] {
    const device = this.#core.find(id);
    checkRange(device, offset, length);
    return mapRange(device, offset, length, this.extentBytes);
  }

  /** {@inheritDoc BlockStore.diff} */
  diff(fromId: string | null, toId: string): MappedRange[] {
    const to = this.#core.find(toId);
    return diff(fromId === null ? null : this.#core.find(fromId), to, this.extentBytes);
  }

  /** {@inheritDoc BlockStore.deviceUsage} */
  deviceUsage(id: string): DeviceUsage {
    return deviceUsage(this.#core.find(id), this.extentBytes);
  }

  // ---- durability ----

  /** {@inheritDoc BlockStore.flush} */
  async flush(): Promise<void> {
    this.#core.checkOpen();
    await this.commit();
  }

  /** Group commit: fdatasync the data file, then commit the metadata batch in one SQLite transaction. */
  commit(): Promise<void> {
    return this.#core.commit();
  }

  /** Metadata commits and rows written since open (benchmarks use it: metadata cost per snapshot). */
  metaStats(): { readonly commits: number; readonly rowsWritten: number } {
    return { ...this.#core.meta.stats };
  }

  #tick(): void {
    const core = this.#core;
    if (core.closed) return;
    core.space.refresh().then(
      () => core.reportFullness(),
      (error: unknown) => core.log.warn({ err: error }, 'storage: cannot read free space'),
    );
    // Only metadata needs the timer; in-place data waits for flush/FUA like a disk's volatile cache.
    if (!core.commits.hasPending()) return;
    this.commit().catch((error: unknown) => {
      const full = error instanceof StoreError && error.code === 'ENOSPC';
      if (full) core.log.warn({ err: error }, 'storage: background commit waits for space');
      else core.log.error({ err: error }, 'storage: background commit failed');
    });
  }

  // ---- lifecycle ----

  /** {@inheritDoc BlockStore.onDeviceRemoved} */
  onDeviceRemoved(listener: (id: string) => void): () => void {
    const listeners = this.#core.listeners;
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }

  /** {@inheritDoc BlockStore.close} */
  async close(): Promise<void> {
    const core = this.#core;
    if (core.closed) return;
    await core.control;
    if (core.commits.failure === null) {
      core.reclaims.runAll();
      await this.commit();
      await core.commits.releaseChain;
    }
    core.closed = true;
    core.commits.closed = true;
    clearInterval(this.#timer);
    core.meta.close();
    await core.data.close();
  }

  /** Test hook: drops the pool as a crash would (no flush, no new commit); closes the metadata handle. */
  async abandon(): Promise<void> {
    const core = this.#core;
    core.closed = true;
    core.commits.closed = true;
    clearInterval(this.#timer);
    await core.commits.idle();
    core.meta.close();
  }
}
