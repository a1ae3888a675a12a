// The block store: a sparse data file of extents plus a birth-generation mapping index (see docs/storage.md).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { assert } from '../../base/assert.ts';
import { limits } from '../../base/limits.ts';
import { isOutOfSpace } from '../../base/out-of-space.ts';
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
import { Allocator } from './allocator.ts';
import { openRealDataFile, type DataFile } from './data-file.ts';
import { Lineage, resolveBlock, type Row } from './lineage.ts';
import { lockBlocks, tryLockBlocks, waitIdle } from './block-locks.ts';
import { checkRange, checkSize, info, lineageRecord, record, type Device } from './device.ts';
import { candidateBlocks, deviceUsage, diff, mapRange } from './maps.ts';
import { GroupCommit, noChanges, type Changes } from './group-commit.ts';
import { ReadTracker } from './read-tracker.ts';
import { Reclaimer } from './reclaim.ts';
import { SpaceGuard, type Fullness, type SpaceStatus } from './space-guard.ts';
import { Batch, MetaDb, TOMBSTONE, metaFormatVersion, type MetaSnapshot } from './meta-db.ts';

/** How to open (or create) a pool. Creation options are ignored for an existing pool, except capacity growth. */
export interface PoolOptions {
  readonly dir: string;
  readonly capacityBytes?: number;
  readonly extentBytes?: number;
  readonly logger?: Logger;
  /** Test hook: the data file to use instead of `<dir>/data` (e.g. a LossyDataFile). */
  readonly dataFile?: DataFile;
}

/** A write of `data[from, from + length)` at file `position`, with no read first. */
interface Direct {
  readonly position: number;
  readonly from: number;
  readonly length: number;
}

/** Largest zero buffer a zeroing call allocates at once. */
const zeroChunkBytes = limits.nbdPayloadBytesMax;

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
    const pool = new Pool(meta, data, snapshot, options.logger ?? silentLogger, space);
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

/** The BlockStore implementation. Construct through `openPool`. */
export class Pool implements BlockStore {
  readonly extentBytes: number;
  readonly #meta: MetaDb;
  readonly #data: DataFile;
  readonly #log: Logger;
  readonly #allocator: Allocator;
  readonly #commits: GroupCommit;
  readonly #space: SpaceGuard;
  readonly #lineages = new Map<number, Lineage>();
  readonly #devices = new Map<string, Device>();
  readonly #listeners = new Set<(id: string) => void>();
  readonly #reads = new ReadTracker();
  readonly #reclaims: Reclaimer;
  readonly #timer: NodeJS.Timeout;
  #nextLineage: number;
  #owned = 0;
  #control: Promise<void> = Promise.resolve();
  #closed = false;
  #fullness: Fullness = 'ok';

  constructor(meta: MetaDb, data: DataFile, snapshot: MetaSnapshot, log: Logger, space: SpaceGuard) {
    const pool = snapshot.pool;
    this.extentBytes = pool.get('extent_bytes')!;
    assert(this.extentBytes > 0, 'pool: no extent size');
    this.#meta = meta;
    this.#data = data;
    this.#log = log;
    this.#space = space;
    this.#nextLineage = pool.get('next_lineage')!;
    this.#allocator = new Allocator(pool.get('capacity_extents')!, pool.get('high_water')!, snapshot.free);
    this.#commits = new GroupCommit({
      meta,
      data,
      space,
      reads: this.#reads,
      allocator: this.#allocator,
      log,
      extentBytes: this.extentBytes,
      reportFullness: () => this.#reportFullness(),
    });
    this.#reclaims = new Reclaimer({
      lineages: this.#lineages,
      commits: this.#commits,
      free: (extent, changes) => this.#free(extent, changes),
      isClosed: () => this.#closed,
      onIdle: () => this.#tick(),
    });
    this.#loadIndex(snapshot);
    this.#timer = setInterval(() => this.#tick(), limits.storageCommitIntervalMs);
    this.#timer.unref();
  }

  #loadIndex(snapshot: MetaSnapshot): void {
    for (const record of snapshot.lineages) {
      let parent = null;
      if (record.parentLineage !== null) {
        const lineage = this.#lineages.get(record.parentLineage);
        assert(lineage !== undefined, `lineage ${record.id}: parent ${record.parentLineage} missing`);
        const bytes = record.parentBytes!;
        parent = { lineage, gen: record.parentGen!, bytes, blocks: Math.ceil(bytes / this.extentBytes) };
      }
      const lineage = new Lineage(record.id, record.gen, parent);
      parent?.lineage.children.add(lineage);
      this.#lineages.set(record.id, lineage);
    }
    for (const record of snapshot.devices) {
      const lineage = this.#lineages.get(record.lineage);
      assert(lineage !== undefined, `device ${record.id}: lineage ${record.lineage} missing`);
      if (record.kind === 'volume') lineage.volumeId = record.id;
      else lineage.snapshots.set(record.gen!, record.id);
      const gen = record.gen ?? Infinity;
      this.#devices.set(record.id, { ...record, lineage, gen });
    }
    for (const m of snapshot.mappings) {
      const lineage = this.#lineages.get(m.lineage);
      assert(lineage !== undefined, `mapping: lineage ${m.lineage} missing`);
      let chain = lineage.blocks.get(m.block);
      if (chain === undefined) lineage.blocks.set(m.block, (chain = []));
      chain.unshift({ birth: m.birthGen, extent: m.extent });
      if (m.extent !== TOMBSTONE) this.#owned++;
    }
  }

  /** Finishes opening: turns extents past the committed high-water mark back into holes, grows, reclaims. */
  async prepare(capacityBytes: number | undefined): Promise<void> {
    const committedBytes = this.#allocator.highWater * this.extentBytes;
    if ((await this.#data.sizeBytes()) > committedBytes) await this.#data.truncate(committedBytes);
    if (capacityBytes !== undefined && capacityBytes > this.usage().capacityBytes)
      await this.grow(capacityBytes);
    // Finish reclaims a crash interrupted (cheap: the index is in memory already).
    this.#reclaims.queue(this.#lineages.values());
    this.#reportFullness();
  }

  /** {@inheritDoc BlockStore.usage} */
  usage(): PoolUsage {
    const extentBytes = this.extentBytes;
    return {
      extentBytes,
      capacityBytes: this.#allocator.capacityExtents * extentBytes,
      usedBytes: this.#owned * extentBytes,
      pendingFreeBytes: (this.#commits.pendingFree.length + this.#commits.releasing) * extentBytes,
      availableBytes: this.#available() * extentBytes,
    };
  }

  /** What the pool last saw of its file system: free space, the metadata reserve, fullness. */
  space(): SpaceStatus {
    return this.#space.status();
  }

  /** New extents a write may take now: the quota's and the file system's room, whichever is less. */
  #available(): number {
    return Math.min(this.#allocator.available(), this.#space.extentsAvailable());
  }

  /** {@inheritDoc BlockStore.grow} */
  async grow(capacityBytes: number): Promise<void> {
    const extents = Math.floor(capacityBytes / this.extentBytes);
    if (!Number.isSafeInteger(capacityBytes) || extents < this.#allocator.capacityExtents) {
      throw new StoreError('EINVAL', `pool capacity never shrinks: asked ${capacityBytes} bytes`);
    }
    await this.#exclusive(async () => {
      this.#allocator.grow(extents);
      this.#commits.batch.pool.set('capacity_extents', extents);
      await this.commit();
    });
  }

  /** {@inheritDoc BlockStore.device} */
  device(id: string): DeviceInfo | undefined {
    const device = this.#devices.get(id);
    return device === undefined ? undefined : info(device);
  }

  /** {@inheritDoc BlockStore.devices} */
  devices(): DeviceInfo[] {
    return [...this.#devices.values()].map(info);
  }

  // ---- control operations: serialised, durable when they resolve ----

  /** {@inheritDoc BlockStore.createVolume} */
  async createVolume(id: string, sizeBytes: number): Promise<void> {
    checkSize(sizeBytes);
    await this.#exclusive(async () => {
      this.#checkFree(id);
      await this.#needMetadataRoom();
      const lineage = this.#newLineage(null);
      lineage.volumeId = id;
      this.#addDevice({ id, kind: 'volume', lineage, gen: Infinity, sizeBytes, parentId: null });
      await this.commit();
    });
  }

  /** {@inheritDoc BlockStore.resizeVolume} */
  async resizeVolume(id: string, sizeBytes: number): Promise<void> {
    checkSize(sizeBytes);
    await this.#exclusive(async () => {
      const device = this.#volume(id);
      if (sizeBytes < device.sizeBytes) {
        throw new StoreError(
          'EINVAL',
          `volumes only grow: ${id} has ${device.sizeBytes} bytes, asked ${sizeBytes}`,
        );
      }
      device.sizeBytes = sizeBytes;
      this.#commits.batch.devices.set(id, record(device));
      await this.commit();
    });
  }

  /** {@inheritDoc BlockStore.deleteVolume} */
  async deleteVolume(id: string): Promise<void> {
    await this.#exclusive(async () => {
      const device = this.#volume(id);
      const lineage = device.lineage;
      const open = await this.#quiesce(lineage);
      try {
        lineage.volumeId = null;
        this.#devices.delete(id);
        this.#commits.batch.devices.set(id, null);
        await this.commit();
      } finally {
        open();
      }
      this.#removed(id, lineage);
    });
  }

  /** {@inheritDoc BlockStore.snapshot} */
  async snapshot(volumeId: string, snapshotId: string): Promise<void> {
    await this.#exclusive(async () => {
      const volume = this.#volume(volumeId);
      this.#checkFree(snapshotId);
      await this.#needMetadataRoom();
      const lineage = volume.lineage;
      const open = await this.#quiesce(lineage);
      try {
        const gen = lineage.gen;
        lineage.gen = gen + 1;
        lineage.snapshots.set(gen, snapshotId);
        lineage.invalidateViews();
        this.#commits.batch.lineages.set(lineage.id, lineageRecord(lineage));
        const sizeBytes = volume.sizeBytes;
        this.#addDevice({ id: snapshotId, kind: 'snapshot', lineage, gen, sizeBytes, parentId: volumeId });
        await this.commit();
      } finally {
        open();
      }
    });
  }

  /** {@inheritDoc BlockStore.clone} */
  async clone(snapshotId: string, volumeId: string, sizeBytes?: number): Promise<void> {
    await this.#exclusive(async () => {
      const snapshot = this.#snapshot(snapshotId);
      const size = sizeBytes ?? snapshot.sizeBytes;
      checkSize(size);
      if (size < snapshot.sizeBytes) {
        throw new StoreError('EINVAL', `clone must be at least ${snapshot.sizeBytes} bytes: asked ${size}`);
      }
      this.#checkFree(volumeId);
      await this.#needMetadataRoom();
      const bytes = snapshot.sizeBytes;
      const parent = {
        lineage: snapshot.lineage,
        gen: snapshot.gen,
        bytes,
        blocks: Math.ceil(bytes / this.extentBytes),
      };
      const lineage = this.#newLineage(parent);
      lineage.volumeId = volumeId;
      snapshot.lineage.children.add(lineage);
      snapshot.lineage.invalidateViews();
      this.#addDevice({
        id: volumeId,
        kind: 'volume',
        lineage,
        gen: Infinity,
        sizeBytes: size,
        parentId: snapshotId,
      });
      await this.commit();
    });
  }

  /** {@inheritDoc BlockStore.deleteSnapshot} */
  async deleteSnapshot(id: string): Promise<void> {
    await this.#exclusive(async () => {
      const device = this.#snapshot(id);
      device.lineage.snapshots.delete(device.gen);
      device.lineage.invalidateViews();
      this.#devices.delete(id);
      this.#commits.batch.devices.set(id, null);
      await this.commit();
      this.#removed(id, device.lineage);
    });
  }

  #removed(id: string, lineage: Lineage): void {
    for (const listener of this.#listeners) listener(id);
    this.#reclaims.queue([lineage]);
  }

  #newLineage(parent: Lineage['parent']): Lineage {
    const lineage = new Lineage(this.#nextLineage++, 1, parent);
    this.#lineages.set(lineage.id, lineage);
    this.#commits.batch.pool.set('next_lineage', this.#nextLineage);
    this.#commits.batch.lineages.set(lineage.id, lineageRecord(lineage));
    return lineage;
  }

  #addDevice(device: Device): void {
    assert(!this.#devices.has(device.id), 'addDevice: id taken');
    this.#devices.set(device.id, device);
    this.#commits.batch.devices.set(device.id, record(device));
  }

  /** Refuses an operation that adds metadata while the reserve for its commit is spent (deletes never wait). */
  async #needMetadataRoom(): Promise<void> {
    if (this.#space.roomForMetadata()) return;
    await this.#space.refresh();
    if (this.#space.roomForMetadata()) return;
    throw new StoreError(
      'ENOSPC',
      "the pool's file system is full and its metadata reserve is spent: delete volumes or snapshots, or grow it",
    );
  }

  #checkFree(id: string): void {
    if (typeof id !== 'string' || id.length === 0)
      throw new StoreError('EINVAL', 'device id must be non-empty');
    if (this.#devices.has(id)) throw new StoreError('EEXIST', `device ${id} already exists`);
  }

  #find(id: string): Device {
    const device = this.#devices.get(id);
    if (device === undefined) throw new StoreError('ENOENT', `no device ${id}`);
    return device;
  }

  #volume(id: string): Device {
    const device = this.#find(id);
    if (device.kind !== 'volume') throw new StoreError('EROFS', `${id} is a snapshot (read-only)`);
    return device;
  }

  #snapshot(id: string): Device {
    const device = this.#find(id);
    if (device.kind !== 'snapshot') throw new StoreError('EINVAL', `${id} is a volume, not a snapshot`);
    return device;
  }

  /** Runs control operations one at a time. */
  #exclusive<T>(operation: () => Promise<T>): Promise<T> {
    this.#checkOpen();
    const result = this.#control.then(operation);
    this.#control = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Stops new writes to `lineage` and waits for those in flight; returns the function that reopens it. */
  async #quiesce(lineage: Lineage): Promise<() => void> {
    while (lineage.gate !== null) await lineage.gate;
    let open!: () => void;
    lineage.gate = new Promise<void>((resolve) => (open = resolve));
    if (lineage.writesInFlight > 0) await new Promise<void>((resolve) => (lineage.drained = resolve));
    lineage.drained = null;
    assert(lineage.writesInFlight === 0 && lineage.busy.size === 0, 'quiesce: writes still in flight');
    return () => {
      lineage.gate = null;
      open();
    };
  }

  /** Counts a write in on its volume; waits (returns a promise) only while a control operation holds the gate. */
  #enter(device: Device): Promise<void> | undefined {
    if (device.lineage.gate === null) {
      device.lineage.writesInFlight++;
      return undefined;
    }
    return this.#enterLater(device);
  }

  async #enterLater(device: Device): Promise<void> {
    const lineage = device.lineage;
    while (lineage.gate !== null) await lineage.gate;
    if (this.#devices.get(device.id) !== device) throw new StoreError('ENOENT', `no device ${device.id}`);
    lineage.writesInFlight++;
  }

  #leave(device: Device): void {
    const lineage = device.lineage;
    lineage.writesInFlight--;
    assert(lineage.writesInFlight >= 0, 'leave: negative writes in flight');
    if (lineage.writesInFlight === 0 && lineage.drained !== null) lineage.drained();
  }

  // ---- data path ----

  /** {@inheritDoc BlockStore.read} */
  async read(id: string, offset: number, length: number): Promise<Buffer> {
    const out = Buffer.allocUnsafe(length);
    await this.readInto(id, offset, out);
    return out;
  }

  /** {@inheritDoc BlockStore.readInto} */
  async readInto(id: string, offset: number, out: Buffer): Promise<void> {
    this.#checkOpen();
    const device = this.#find(id);
    const length = out.length;
    checkRange(device, offset, length);
    if (length === 0) return;
    const extentBytes = this.extentBytes;
    const first = Math.floor(offset / extentBytes);
    const last = Math.floor((offset + length - 1) / extentBytes);
    if (device.kind === 'volume' && device.lineage.busy.size > 0) await waitIdle(device.lineage, first, last);
    const io = this.#readRuns(device, out, offset, first, last);
    if (io !== null) await io;
  }

  /** Issues the reads of blocks [first, last], one per physically contiguous run; zero-fills holes. */
  #readRuns(
    device: Device,
    out: Buffer,
    offset: number,
    first: number,
    last: number,
  ): Promise<unknown> | null {
    const extentBytes = this.extentBytes;
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
      if (runLength > 0) io.push(this.#readData(out, runStart, runLength, runPosition));
      runPosition = position;
      runStart = start - offset;
      runLength = end - start;
    }
    if (runLength > 0) io.push(this.#readData(out, runStart, runLength, runPosition));
    return io.length === 0 ? null : io.length === 1 ? io[0]! : Promise.all(io);
  }

  /** {@inheritDoc BlockStore.write} */
  async write(id: string, offset: number, data: Buffer, options?: WriteOptions): Promise<void> {
    this.#checkOpen();
    const device = this.#volume(id);
    checkRange(device, offset, data.length);
    if (data.length > 0) {
      const entering = this.#enter(device);
      if (entering !== undefined) await entering;
      try {
        await this.#writeRange(device.lineage, offset, data, false);
      } finally {
        this.#leave(device);
      }
    }
    if (options?.fua === true) await this.commit();
  }

  /** {@inheritDoc BlockStore.trim} */
  async trim(id: string, offset: number, length: number, options?: WriteOptions): Promise<void> {
    this.#checkOpen();
    const device = this.#volume(id);
    checkRange(device, offset, length);
    if (length > 0) {
      const entering = this.#enter(device);
      if (entering !== undefined) await entering;
      try {
        await this.#trimRange(device.lineage, offset, length);
      } finally {
        this.#leave(device);
      }
    }
    if (options?.fua === true) await this.commit();
  }

  /** {@inheritDoc BlockStore.writeZeroes} */
  async writeZeroes(id: string, offset: number, length: number, options?: ZeroOptions): Promise<void> {
    if (options?.noHole !== true) return this.trim(id, offset, length, options);
    this.#checkOpen();
    const device = this.#volume(id);
    checkRange(device, offset, length);
    const entering = this.#enter(device);
    if (entering !== undefined) await entering;
    try {
      const zeros = Buffer.alloc(Math.min(length, zeroChunkBytes));
      for (let done = 0; done < length; done += zeros.length) {
        const chunk = Math.min(zeros.length, length - done);
        await this.#writeRange(device.lineage, offset + done, zeros.subarray(0, chunk), false);
      }
    } finally {
      this.#leave(device);
    }
    if (options?.fua === true) await this.commit();
  }

  async #trimRange(lineage: Lineage, offset: number, length: number): Promise<void> {
    const extentBytes = this.extentBytes;
    const end = offset + length;
    const wholeFirst = Math.ceil(offset / extentBytes);
    const wholeEnd = Math.floor(end / extentBytes);
    if (wholeFirst >= wholeEnd) {
      await this.#writeRange(lineage, offset, Buffer.alloc(length), true);
      return;
    }
    if (offset < wholeFirst * extentBytes) {
      await this.#writeRange(lineage, offset, Buffer.alloc(wholeFirst * extentBytes - offset), true);
    }
    const blocks = candidateBlocks(lineage, wholeFirst, wholeEnd - 1);
    const unlock = tryLockBlocks(lineage, blocks) ?? (await lockBlocks(lineage, blocks));
    try {
      const changes = noChanges();
      for (const block of blocks) this.#unmapBlock(lineage, block, changes);
      this.#commits.record(changes);
    } finally {
      unlock();
    }
    if (end > wholeEnd * extentBytes) {
      await this.#writeRange(
        lineage,
        wholeEnd * extentBytes,
        Buffer.alloc(end - wholeEnd * extentBytes),
        true,
      );
    }
  }

  /** Makes block `block` of the volume read as zeros without writing data. */
  #unmapBlock(lineage: Lineage, block: number, changes: Changes): void {
    if (resolveBlock(lineage, Infinity, block) === TOMBSTONE) return;
    const gen = lineage.gen;
    const chain = lineage.blocks.get(block);
    const head = chain?.[0];
    if (chain !== undefined && head !== undefined && head.birth === gen) {
      assert(head.extent !== TOMBSTONE, 'unmap: tombstone head resolves to data');
      this.#free(head.extent, changes);
      const below = chain[1];
      const belowIsZero =
        below !== undefined ? below.extent === TOMBSTONE : this.#parentIsZero(lineage, block);
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
    this.#dropIfHidden(lineage, block, newChain, changes);
  }

  #parentIsZero(lineage: Lineage, block: number): boolean {
    const parent = lineage.parent;
    if (parent === null || block >= parent.blocks) return true;
    return resolveBlock(parent.lineage, parent.gen, block) === TOMBSTONE;
  }

  /** After a new head row: frees the previous head if no view can see it any more. */
  #dropIfHidden(lineage: Lineage, block: number, chain: Row[], changes: Changes): void {
    const previous = chain[1];
    if (previous === undefined || lineage.isVisible(chain, 1)) return;
    chain.splice(1, 1);
    changes.rows.push([lineage.id, block, previous.birth, null]);
    if (previous.extent !== TOMBSTONE) this.#free(previous.extent, changes);
  }

  #free(extent: number, changes: Changes): void {
    assert(extent >= 0 && extent < this.#allocator.highWater, `free: extent ${extent} out of range`);
    changes.freed.push(extent);
    this.#owned--;
  }

  /** Writes `data` at `offset` of the volume of `lineage`; `zeroing` skips blocks that already read as zeros. */
  async #writeRange(lineage: Lineage, offset: number, data: Buffer, zeroing: boolean): Promise<void> {
    const extentBytes = this.extentBytes;
    const first = Math.floor(offset / extentBytes);
    const last = Math.floor((offset + data.length - 1) / extentBytes);
    const blocks: number[] = [];
    for (let block = first; block <= last; block++) blocks.push(block);
    for (let attempt = 0; ; attempt++) {
      const unlock = tryLockBlocks(lineage, blocks) ?? (await lockBlocks(lineage, blocks));
      let needed = 0;
      for (const block of blocks) if (this.#needsExtent(lineage, block, zeroing)) needed++;
      if (needed <= this.#available()) {
        try {
          await this.#writeLocked(lineage, blocks, offset, data, zeroing);
        } finally {
          unlock();
        }
        return;
      }
      unlock();
      if (attempt > 0) {
        this.#space.refused(needed);
        this.#reportFullness();
        throw new StoreError('ENOSPC', `pool full: write needs ${needed} extents, ${this.#available()} free`);
      }
      await this.#makeRoom();
    }
  }

  /** Plans and writes locked blocks; if the data I/O fails, puts every planned change back (nothing recorded). */
  async #writeLocked(
    lineage: Lineage,
    blocks: readonly number[],
    offset: number,
    data: Buffer,
    zeroing: boolean,
  ): Promise<void> {
    const changes = noChanges();
    const io = this.#writeBlocks(lineage, blocks, offset, data, zeroing, changes);
    const spent = changes.taken.length;
    this.#space.spend(spent);
    try {
      await Promise.all(io);
    } catch (error) {
      await Promise.allSettled(io);
      this.#undo(lineage, changes);
      if (!isOutOfSpace(error)) throw error;
      throw new StoreError('ENOSPC', `the pool's file system is full: ${(error as Error).message}`);
    } finally {
      this.#space.settled(spent);
    }
    this.#commits.record(changes);
  }

  /** A write whose data I/O failed leaves no trace: chains, extents and the owned count go back. */
  #undo(lineage: Lineage, changes: Changes): void {
    for (const [block, chain] of changes.undo) {
      if (chain.length === 0) lineage.blocks.delete(block);
      else lineage.blocks.set(block, chain);
    }
    this.#owned += changes.freed.length - changes.taken.length;
    // Durably free still (fresh ones went into the batch as free with the high-water mark), so reusable now.
    this.#allocator.release(changes.taken);
    assert(this.#owned >= 0, 'undo: negative owned count');
  }

  /** Before a write reports ENOSPC: reclaim and commit what is pending, and look at the file system again. */
  async #makeRoom(): Promise<void> {
    if (this.#mayFreeSoon()) {
      this.#reclaims.runAll();
      await this.commit();
      await this.#commits.releaseChain;
    }
    await this.#space.refresh();
  }

  #mayFreeSoon(): boolean {
    return this.#commits.pendingFree.length > 0 || this.#commits.releasing > 0 || this.#reclaims.pending > 0;
  }

  #needsExtent(lineage: Lineage, block: number, zeroing: boolean): boolean {
    const head = lineage.blocks.get(block)?.[0];
    if (head !== undefined && head.birth === lineage.gen && head.extent !== TOMBSTONE) return false;
    return !(zeroing && resolveBlock(lineage, Infinity, block) === TOMBSTONE);
  }

  /** Plans every block synchronously, then issues the I/O; physically contiguous direct writes become one. */
  #writeBlocks(
    lineage: Lineage,
    blocks: readonly number[],
    offset: number,
    data: Buffer,
    zeroing: boolean,
    changes: Changes,
  ): Promise<void>[] {
    const io: Promise<void>[] = [];
    let run: Direct | null = null;
    for (const block of blocks) {
      const plan = this.#writeBlock(lineage, block, offset, data, zeroing, changes);
      if (plan === null) continue;
      if (plan instanceof Promise) {
        io.push(plan);
      } else if (
        run !== null &&
        run.position + run.length === plan.position &&
        run.from + run.length === plan.from
      ) {
        run = { position: run.position, from: run.from, length: run.length + plan.length };
      } else {
        if (run !== null)
          io.push(this.#writeData(data.subarray(run.from, run.from + run.length), run.position));
        run = plan;
      }
    }
    if (run !== null) io.push(this.#writeData(data.subarray(run.from, run.from + run.length), run.position));
    return io;
  }

  /** Decides block `block`'s mapping synchronously; returns a direct write of `data`, a copy-on-write, or null. */
  #writeBlock(
    lineage: Lineage,
    block: number,
    offset: number,
    data: Buffer,
    zeroing: boolean,
    changes: Changes,
  ): Direct | Promise<void> | null {
    const extentBytes = this.extentBytes;
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
    const { extent, fresh } = this.#allocator.allocate();
    this.#owned++;
    if (fresh) {
      // The hole is durable as "free" first, so a crash before this write commits cannot leak it.
      this.#commits.batch.pool.set('high_water', this.#allocator.highWater);
      this.#commits.batch.free.set(extent, true);
    }
    changes.taken.push(extent);
    changes.rows.push([lineage.id, block, gen, extent]);
    if (chain === undefined) lineage.blocks.set(block, (chain = []));
    if (head !== undefined && head.birth === gen) {
      head.extent = extent;
    } else {
      chain.unshift({ birth: gen, extent });
      this.#dropIfHidden(lineage, block, chain, changes);
    }
    const position = extent * extentBytes;
    if (slice.length === extentBytes) return { position, from: start - offset, length: extentBytes };
    // Written whole even when fresh (dm-thin zeroes new blocks too): an owned extent is then fully allocated in
    // the file system, so in-place writes to it never need space the pool did not count.
    return this.#copyOnWrite(extent, source, inner, slice);
  }

  /** A partial write to a new extent: old contents (or zeros) around the new data, written whole. */
  async #copyOnWrite(extent: number, source: number, inner: number, slice: Buffer): Promise<void> {
    const extentBytes = this.extentBytes;
    const position = extent * extentBytes;
    // A reused extent holds stale bytes: write all of it, old contents (or zeros) around the new data.
    const whole = source === TOMBSTONE ? Buffer.alloc(extentBytes) : Buffer.allocUnsafe(extentBytes);
    if (source !== TOMBSTONE) await this.#readData(whole, 0, extentBytes, source * extentBytes);
    slice.copy(whole, inner);
    await this.#writeData(whole, position);
  }

  async #writeData(buffer: Buffer, position: number): Promise<void> {
    const extentBytes = this.extentBytes;
    assert(position >= 0 && buffer.length > 0, 'writeData: bad position');
    assert(position + buffer.length <= this.#allocator.highWater * extentBytes, 'writeData: past high water');
    await this.#data.write(buffer, 0, buffer.length, position);
    this.#commits.dataDirty = true;
  }

  /** Reads data; tracked so extents freed meanwhile are not reused until the read is done. */
  #readData(buffer: Buffer, offset: number, length: number, position: number): Promise<void> {
    assert(position + length <= this.#allocator.highWater * this.extentBytes, 'readData: past high water');
    const epoch = this.#reads.begin();
    const end = () => this.#reads.end(epoch);
    return this.#data.read(buffer, offset, length, position).then(
      (count) => {
        assert(count >= 0 && count <= length, 'read: bad count');
        if (count === length) return end();
        return this.#readFully(buffer, offset + count, length - count, position + count, count === 0).finally(
          end,
        );
      },
      (error: unknown) => {
        end();
        throw error;
      },
    );
  }

  async #readFully(buffer: Buffer, offset: number, length: number, position: number, atEnd: boolean) {
    if (atEnd) {
      buffer.fill(0, offset, offset + length);
      return;
    }
    let done = 0;
    while (done < length) {
      const count = await this.#data.read(buffer, offset + done, length - done, position + done);
      assert(count >= 0 && count <= length - done, 'read: bad count');
      // Past the end of the sparse file: a hole, reads as zeros.
      if (count === 0) {
        buffer.fill(0, offset + done, offset + length);
        return;
      }
      done += count;
    }
  }

  // ---- durability ----

  /** {@inheritDoc BlockStore.flush} */
  async flush(): Promise<void> {
    this.#checkOpen();
    await this.commit();
  }

  /** Group commit: fdatasync the data file, then commit the metadata batch in one SQLite transaction. */
  commit(): Promise<void> {
    return this.#commits.commit();
  }

  /** Logs when the file system's fullness changes level (high-water mark, full, back to ok). */
  #reportFullness(): void {
    const status = this.#space.status();
    if (status.fullness === this.#fullness) return;
    this.#fullness = status.fullness;
    const fields = { ...status, poolUsedBytes: this.#owned * this.extentBytes };
    if (status.fullness === 'ok') this.#log.info(fields, 'storage: the pool has room again');
    else if (status.fullness === 'high') {
      const mark = limits.storageFullWarnPercent;
      this.#log.warn(fields, `storage: the pool's file system is more than ${mark}% full`);
    } else
      this.#log.warn(fields, "storage: the pool's file system is full: writes needing new space get ENOSPC");
  }

  #tick(): void {
    if (this.#closed) return;
    this.#space.refresh().then(
      () => this.#reportFullness(),
      (error: unknown) => this.#log.warn({ err: error }, 'storage: cannot read free space'),
    );
    // Only metadata needs the timer; in-place data waits for flush/FUA like a disk's volatile cache.
    if (!this.#commits.hasPending()) return;
    this.commit().catch((error: unknown) => {
      const full = error instanceof StoreError && error.code === 'ENOSPC';
      if (full) this.#log.warn({ err: error }, 'storage: background commit waits for space');
      else this.#log.error({ err: error }, 'storage: background commit failed');
    });
  }

  /** {@inheritDoc BlockStore.mapRange} */
  mapRange(id: string, offset: number, length: number): MappedRange[] {
    const device = this.#find(id);
    checkRange(device, offset, length);
    return mapRange(device, offset, length, this.extentBytes);
  }

  /** {@inheritDoc BlockStore.diff} */
  diff(fromId: string | null, toId: string): MappedRange[] {
    const to = this.#find(toId);
    return diff(fromId === null ? null : this.#find(fromId), to, this.extentBytes);
  }

  /** {@inheritDoc BlockStore.deviceUsage} */
  deviceUsage(id: string): DeviceUsage {
    return deviceUsage(this.#find(id), this.extentBytes);
  }

  /** Metadata commits and rows written since open (benchmarks use it: metadata cost per snapshot). */
  metaStats(): { readonly commits: number; readonly rowsWritten: number } {
    return { ...this.#meta.stats };
  }

  // ---- lifecycle ----

  /** {@inheritDoc BlockStore.onDeviceRemoved} */
  onDeviceRemoved(listener: (id: string) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** {@inheritDoc BlockStore.close} */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#control;
    if (this.#commits.failure === null) {
      this.#reclaims.runAll();
      await this.commit();
      await this.#commits.releaseChain;
    }
    this.#closed = true;
    this.#commits.closed = true;
    clearInterval(this.#timer);
    this.#meta.close();
    await this.#data.close();
  }

  /** Test hook: drops the pool as a crash would (no flush, no new commit); closes the metadata handle. */
  async abandon(): Promise<void> {
    this.#closed = true;
    this.#commits.closed = true;
    clearInterval(this.#timer);
    await this.#commits.idle();
    this.#meta.close();
  }

  #checkOpen(): void {
    if (this.#commits.failure !== null) throw this.#commits.failure;
    if (this.#closed) throw new StoreError('EBUSY', 'the block store is closed');
  }
}
