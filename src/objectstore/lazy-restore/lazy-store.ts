// A BlockStore over the pool whose devices may read through to an archived snapshot (lazy restore).
//
// A *lazy* device has a fill source: the manifest of an archived snapshot. Its content, chunk by chunk
// (512 KiB, the archive's chunk), is
//   - the pool's bytes, if the chunk is *present* (any extent of it allocated in the pool), else
//   - the archived chunk, if the manifest lists one, else
//   - zeros.
// Invariants that keep this true:
//   1. A chunk becomes present only by a *fill*: the whole archived chunk, fetched, verified against its
//      SHA-256 and written into a volume. Every write, trim or zeroing of a not-present chunk fills it first,
//      so a partly present chunk never exists.
//   2. While a volume is lazy, trims and zeroings keep the range allocated (`noHole`), so a present chunk can
//      never turn back into a hole that would read the archive's old bytes again.
//   3. Fills of one chunk are serialised and re-check presence, so a fill never lands on a user's write.
//   4. Snapshots and clones of a lazy device inherit its fill source: their holes mean the same thing.
//      The record is durable before the pool device exists (fill-records.ts).
//   5. A volume stops being lazy only when every archived chunk is present and the pool is flushed.
// Volumes are filled on demand (reads, writes) and by a background hydrator with a rate limit. Snapshots
// are read-only: reads of their unfetched chunks are served from the archive (through a small cache).
import { assert } from '../../base/assert.ts';
import { limits } from '../../base/limits.ts';
import { Semaphore } from '../../base/semaphore.ts';
import type { Logger } from '../../base/log.ts';
import {
  StoreError,
  type BlockStore,
  type DeviceInfo,
  type DeviceUsage,
  type MappedRange,
  type PoolUsage,
  type WriteOptions,
  type ZeroOptions,
} from '../../storage/block-store.ts';
import { chunkLength, type Manifest } from '../archive-format.ts';
import { CancellableStore } from '../cancellable-store.ts';
import { chunkAt, readChunk, readManifest, restoreScratchVolumeId, restoreSnapshot } from '../restorer.ts';
import { ArchiveError, type SnapshotStore } from '../snapshot-store.ts';
import { ChunkFetcher } from './chunk-fetcher.ts';
import { FillRecords } from './fill-records.ts';
import { Hydrator } from './hydrator.ts';
import { chunkRanges, overlay, union } from './ranges.ts';

/** How to open a lazy-restore store. */
export interface LazyRestoreOptions {
  /** The pool. */
  readonly inner: BlockStore;
  /** Where archived snapshots are read from. */
  readonly source: SnapshotStore;
  /** The records file (`<data-dir>/lazy-restore.json`). */
  readonly recordsPath: string;
  readonly logger: Logger;
  /** Background hydration rate per volume; default `limits.hydrationBytesPerSecond`. */
  readonly hydrationBytesPerSecond?: number;
  /** Per-operation retry deadline of archive reads; default `limits.archiveRetryDeadlineMs`. */
  readonly retryDeadlineMs?: number;
}

/** One lazy device: its manifest and which of its archived chunks are present in the pool. */
interface LazyDevice {
  readonly id: string;
  readonly snapshotId: string;
  readonly manifest: Manifest;
  /** Per chunk index: 1 once present in the pool. Zero chunks and chunks past the manifest are never needed. */
  readonly present: Uint8Array;
  /** Archived chunks not yet present. */
  missing: number;
  /** Fills running, by chunk index (one at a time per chunk). */
  readonly filling: Map<number, Promise<void>>;
}

/** Opens the store; resumes the hydration of every lazy volume in the records. */
export async function openLazyRestoreStore(options: LazyRestoreOptions): Promise<LazyRestoreStore> {
  const records = await FillRecords.open(options.recordsPath);
  const store = new LazyRestoreStore(options, records);
  await store.load();
  return store;
}

export class LazyRestoreStore implements BlockStore {
  readonly #inner: BlockStore;
  readonly #source: CancellableStore;
  readonly #records: FillRecords;
  readonly #logger: Logger;
  readonly #retryDeadlineMs: number | undefined;
  readonly #fetcher: ChunkFetcher;
  readonly #lazy = new Map<string, LazyDevice>();
  readonly #hydrators = new Map<string, Hydrator>();
  // Why the hydration of a volume stopped, until the next start retries it.
  readonly #failures = new Map<string, unknown>();
  readonly #rate: number;
  readonly #hydrationFills = new Semaphore(limits.hydrationChunksInFlightTotal);
  readonly #manifests = new Map<string, Promise<Manifest>>();
  readonly #adopting = new Map<string, Promise<void>>();
  readonly #releaseListeners = new Set<(snapshotId: string) => void>();
  // Lazy devices whose manifest could not be loaded at open: every access fails until it loads.
  readonly #blocked = new Map<string, { snapshotId: string; reason: string }>();
  #retryTimer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: LazyRestoreOptions, records: FillRecords) {
    this.#inner = options.inner;
    this.#source = new CancellableStore(options.source);
    this.#records = records;
    this.#logger = options.logger;
    this.#retryDeadlineMs = options.retryDeadlineMs;
    this.#rate = options.hydrationBytesPerSecond ?? limits.hydrationBytesPerSecond;
    this.#fetcher = new ChunkFetcher((hash, length) =>
      readChunk(this.#source, hash, length, this.#retryDeadlineMs),
    );
  }

  /** Loads the records: drops those of devices gone from the pool, loads manifests, resumes hydration. */
  async load(): Promise<void> {
    // A scratch volume still recorded is what an adoption cut short left: nothing else names it.
    for (const [id, snapshotId] of this.#records.entries()) {
      if (id !== restoreScratchVolumeId(snapshotId) || this.#inner.device(id)?.kind !== 'volume') continue;
      await this.#inner.deleteVolume(id);
      this.#logger.info(
        { volumeId: id, snapshotId },
        'removed the scratch volume of an interrupted adoption',
      );
    }
    const gone = this.#records.entries().filter(([id]) => this.#inner.device(id) === undefined);
    await this.#drop(...gone.map(([id]) => id));
    for (const [id, snapshotId] of this.#records.entries()) {
      try {
        this.#register(id, snapshotId, await this.#manifest(snapshotId));
      } catch (error) {
        // Never serve it as if its unfetched chunks were holes: block it and keep trying.
        const reason = error instanceof Error ? error.message : String(error);
        this.#blocked.set(id, { snapshotId, reason });
        this.#logger.error({ deviceId: id, snapshotId, reason }, 'lazy device blocked: manifest unreadable');
      }
    }
    if (this.#blocked.size > 0) this.#scheduleUnblock();
  }

  #scheduleUnblock(): void {
    this.#retryTimer = setTimeout(() => {
      void (async () => {
        for (const [id, { snapshotId }] of this.#blocked) {
          const manifest = await this.#manifest(snapshotId).catch(() => undefined);
          if (manifest === undefined || this.#closed) continue;
          this.#blocked.delete(id);
          if (this.#inner.device(id) !== undefined) this.#register(id, snapshotId, manifest);
        }
        if (this.#blocked.size > 0 && !this.#closed) this.#scheduleUnblock();
      })();
    }, limits.lazyManifestRetryMs);
    this.#retryTimer.unref();
  }

  // The lazy state of `id` (undefined for an ordinary device); throws for a blocked one.
  #lookup(id: string): LazyDevice | undefined {
    const blocked = this.#blocked.get(id);
    if (blocked !== undefined) {
      throw new Error(
        `${id} reads through to archived ${blocked.snapshotId}, whose manifest is unreadable: ${blocked.reason}`,
      );
    }
    return this.#lazy.get(id);
  }

  get extentBytes(): number {
    return this.#inner.extentBytes;
  }

  // ---- lazy-restore operations ----

  /**
   * Makes `snapshotId` a pool snapshot that reads through to its archived copy, at once and without
   * fetching: the way back for an evicted snapshot or one archived by another pool. No-op if it exists.
   * A pool whose extents do not divide the archive's chunk could not tell a filled chunk from its
   * neighbour, so there it restores every chunk first (eager).
   */
  adoptArchived(snapshotId: string): Promise<void> {
    if (this.#inner.device(snapshotId) !== undefined) return Promise.resolve();
    let adopting = this.#adopting.get(snapshotId);
    if (adopting === undefined) {
      adopting = this.#adopt(snapshotId).finally(() => this.#adopting.delete(snapshotId));
      this.#adopting.set(snapshotId, adopting);
    }
    return adopting;
  }

  async #adopt(snapshotId: string): Promise<void> {
    const manifest = await this.#manifest(snapshotId);
    const scratch = restoreScratchVolumeId(snapshotId);
    // A scratch volume left by a crash is empty, lazy or partly restored: either way start over.
    await this.deleteVolume(scratch).catch(ignoreMissing);
    if (manifest.chunkBytes % this.#inner.extentBytes === 0) {
      await this.#records.set(scratch, snapshotId);
      await this.#inner.createVolume(scratch, manifest.sizeBytes);
      this.#register(scratch, snapshotId, manifest, false);
    } else {
      await restoreSnapshot({
        source: this.#source,
        snapshotId,
        store: this.#inner,
        volumeId: scratch,
        ...(this.#retryDeadlineMs !== undefined ? { retryDeadlineMs: this.#retryDeadlineMs } : {}),
      });
    }
    await this.snapshot(scratch, snapshotId);
    await this.deleteVolume(scratch);
    await this.#inner.flush();
  }

  /** True while `id` reads through to the archive. */
  isLazy(id: string): boolean {
    return this.#lazy.has(id);
  }

  /**
   * Resolves when volume `id` is fully hydrated (at once if it is not lazy); rejects with the ArchiveError
   * that stopped its hydration (ECANCELED when the store closes). `unthrottled` lifts the rate limit of its
   * hydration, for a volume nothing reads yet (`--fast-restore`).
   */
  async hydrated(id: string, options?: { readonly unthrottled?: boolean }): Promise<void> {
    const hydrator = this.#hydrators.get(id);
    if (hydrator !== undefined) {
      if (options?.unthrottled === true) hydrator.unthrottle();
      return hydrator.done;
    }
    const failed = this.#failures.get(id);
    if (failed !== undefined && this.#lazy.has(id)) throw failed;
  }

  // ---- BlockStore: pass-through ----

  usage(): PoolUsage {
    return this.#inner.usage();
  }
  grow(capacityBytes: number): Promise<void> {
    return this.#inner.grow(capacityBytes);
  }
  device(id: string): DeviceInfo | undefined {
    return this.#inner.device(id);
  }
  devices(): DeviceInfo[] {
    return this.#inner.devices();
  }
  createVolume(id: string, sizeBytes: number): Promise<void> {
    return this.#inner.createVolume(id, sizeBytes);
  }
  resizeVolume(id: string, sizeBytes: number): Promise<void> {
    return this.#inner.resizeVolume(id, sizeBytes);
  }
  flush(): Promise<void> {
    return this.#inner.flush();
  }
  deviceUsage(id: string): DeviceUsage {
    return this.#inner.deviceUsage(id);
  }
  onDeviceRemoved(listener: (id: string) => void): () => void {
    return this.#inner.onDeviceRemoved(listener);
  }

  // ---- BlockStore: devices that inherit or drop a fill source ----

  async deleteVolume(id: string): Promise<void> {
    this.#hydrators.get(id)?.stop();
    await this.#inner.deleteVolume(id);
    await this.#forget(id);
  }

  async deleteSnapshot(id: string): Promise<void> {
    await this.#inner.deleteSnapshot(id);
    await this.#forget(id);
  }

  async snapshot(volumeId: string, snapshotId: string): Promise<void> {
    await this.#inherit(volumeId, snapshotId, () => this.#inner.snapshot(volumeId, snapshotId));
  }

  async clone(snapshotId: string, volumeId: string, sizeBytes?: number): Promise<void> {
    await this.#inherit(snapshotId, volumeId, () => this.#inner.clone(snapshotId, volumeId, sizeBytes));
  }

  // The child's record is durable before the pool makes the child (invariant 4).
  async #inherit(fromId: string, toId: string, make: () => Promise<void>): Promise<void> {
    const lazy = this.#lookup(fromId);
    if (lazy === undefined) return make();
    await this.#records.set(toId, lazy.snapshotId);
    try {
      await make();
    } catch (error) {
      if (this.#inner.device(toId) === undefined) await this.#drop(toId);
      throw error;
    }
    this.#register(toId, lazy.snapshotId, lazy.manifest);
  }

  async #forget(id: string): Promise<void> {
    this.#lazy.delete(id);
    this.#blocked.delete(id);
    this.#hydrators.delete(id);
    this.#failures.delete(id);
    await this.#drop(id);
  }

  // Removes records; tells the listeners about each archived snapshot nothing reads through to any more.
  async #drop(...ids: string[]): Promise<void> {
    const sources = new Set(ids.map((id) => this.#records.get(id)).filter((source) => source !== undefined));
    await this.#records.delete(...ids);
    this.#announceReleased(sources);
  }

  #announceReleased(sources: Iterable<string>): void {
    for (const source of sources) {
      if (this.readersOf(source).length > 0) continue;
      for (const listener of this.#releaseListeners) listener(source);
    }
  }

  /**
   * Once lazy snapshot `snapshotId` is archived itself, it reads through to its own manifest, which holds
   * the same bytes: the snapshot it was filled from is released sooner. No-op for other devices.
   */
  async rebase(snapshotId: string): Promise<void> {
    const lazy = this.#lazy.get(snapshotId);
    if (lazy === undefined || lazy.snapshotId === snapshotId) return;
    if (this.#inner.device(snapshotId)?.kind !== 'snapshot') return;
    const manifest = await this.#manifest(snapshotId);
    await this.#records.set(snapshotId, snapshotId);
    this.#register(snapshotId, snapshotId, manifest);
    this.#announceReleased([lazy.snapshotId]);
  }

  /** Devices other than its own pool copy that read through to archived snapshot `snapshotId`. */
  readersOf(snapshotId: string): string[] {
    return this.#records
      .entries()
      .filter(([id, source]) => source === snapshotId && id !== snapshotId)
      .map(([id]) => id);
  }

  /** Calls `listener` when the last reader of an archived snapshot is hydrated or deleted. Returns an unsubscribe. */
  onReleased(listener: (snapshotId: string) => void): () => void {
    this.#releaseListeners.add(listener);
    return () => this.#releaseListeners.delete(listener);
  }

  // ---- BlockStore: data ----

  async read(id: string, offset: number, length: number): Promise<Buffer> {
    const out = Buffer.allocUnsafe(length);
    await this.readInto(id, offset, out);
    return out;
  }

  async readInto(id: string, offset: number, out: Buffer): Promise<void> {
    const lazy = this.#lookup(id);
    if (lazy === undefined) return this.#inner.readInto(id, offset, out);
    const length = out.length;
    if (this.#inner.device(id)?.kind === 'volume') {
      await this.#fillRange(lazy, offset, length);
      return this.#inner.readInto(id, offset, out);
    }
    // A snapshot cannot be written: overlay the archived chunks it lacks on what the pool has.
    await this.#inner.readInto(id, offset, out);
    const { chunkBytes } = lazy.manifest;
    await Promise.all(
      this.#needed(lazy, offset, length).map(async (index) => {
        const data = await this.#fetch(lazy, index);
        const start = Math.max(offset, index * chunkBytes);
        const end = Math.min(offset + length, index * chunkBytes + data.length);
        data.copy(out, start - offset, start - index * chunkBytes, end - index * chunkBytes);
      }),
    );
  }

  async write(id: string, offset: number, data: Buffer, options?: WriteOptions): Promise<void> {
    const lazy = this.#lookup(id);
    if (lazy !== undefined) await this.#fillRange(lazy, offset, data.length);
    return this.#inner.write(id, offset, data, options);
  }

  async trim(id: string, offset: number, length: number, options?: WriteOptions): Promise<void> {
    const lazy = this.#lookup(id);
    if (lazy === undefined) return this.#inner.trim(id, offset, length, options);
    return this.#zeroLazy(lazy, offset, length, options);
  }

  async writeZeroes(id: string, offset: number, length: number, options?: ZeroOptions): Promise<void> {
    const lazy = this.#lookup(id);
    if (lazy === undefined) return this.#inner.writeZeroes(id, offset, length, options);
    return this.#zeroLazy(lazy, offset, length, options);
  }

  // Invariant 2: zeroing a lazy volume keeps the range allocated, after filling what it touches.
  async #zeroLazy(lazy: LazyDevice, offset: number, length: number, options?: WriteOptions): Promise<void> {
    await this.#fillRange(lazy, offset, length);
    return this.#inner.writeZeroes(lazy.id, offset, length, { fua: options?.fua === true, noHole: true });
  }

  // ---- BlockStore: maps ----

  mapRange(id: string, offset: number, length: number): MappedRange[] {
    const ranges = this.#inner.mapRange(id, offset, length);
    const lazy = this.#lookup(id);
    if (lazy === undefined) return ranges;
    // Unfetched archived chunks hold data: a copy that skipped them as holes would lose it.
    return overlay(ranges, chunkRanges(this.#needed(lazy, offset, length), lazy.manifest, offset, length));
  }

  diff(fromId: string | null, toId: string): MappedRange[] {
    const ranges = this.#inner.diff(fromId, toId);
    const to = this.#lookup(toId);
    const from = fromId === null ? undefined : this.#lookup(fromId);
    // Unfetched chunks of two devices filled from one snapshot are equal; any other pairing may differ.
    if (to?.snapshotId === from?.snapshotId) return ranges;
    const size = this.#inner.device(toId)?.sizeBytes ?? 0;
    const extra = [to, from].flatMap((lazy) =>
      lazy === undefined ? [] : chunkRanges(this.#needed(lazy, 0, size), lazy.manifest, 0, size),
    );
    return overlay(ranges, union(extra));
  }

  // ---- fills ----

  /** Archived chunk indices of `[offset, offset + length)` that are not present yet. */
  #needed(lazy: LazyDevice, offset: number, length: number): number[] {
    if (length === 0 || lazy.missing === 0) return [];
    const { chunkBytes } = lazy.manifest;
    const last = Math.min(Math.floor((offset + length - 1) / chunkBytes), lazy.present.length - 1);
    const indices: number[] = [];
    for (let index = Math.floor(offset / chunkBytes); index <= last; index++) {
      if (lazy.present[index] === 0 && chunkAt(lazy.manifest, index) !== null) indices.push(index);
    }
    return indices;
  }

  #fillRange(lazy: LazyDevice, offset: number, length: number): Promise<void> | undefined {
    const needed = this.#needed(lazy, offset, length);
    if (needed.length === 0) return undefined;
    return Promise.all(needed.map((index) => this.fill(lazy.id, index))).then(() => undefined);
  }

  /** Fills chunk `index` of lazy volume `id` (invariants 1 and 3); shared by concurrent callers. */
  fill(id: string, index: number): Promise<void> {
    const lazy = this.#lazy.get(id);
    if (lazy === undefined || lazy.present[index] !== 0) return Promise.resolve();
    const running = lazy.filling.get(index);
    if (running !== undefined) return running;
    const fill = this.#fillOnce(lazy, index).finally(() => lazy.filling.delete(index));
    lazy.filling.set(index, fill);
    return fill;
  }

  async #fillOnce(lazy: LazyDevice, index: number): Promise<void> {
    if (chunkAt(lazy.manifest, index) === null) return;
    const data = await this.#fetch(lazy, index);
    if (lazy.present[index] !== 0 || this.#lazy.get(lazy.id) !== lazy) return;
    await this.#inner.write(lazy.id, index * lazy.manifest.chunkBytes, data);
    lazy.present[index] = 1;
    lazy.missing--;
    // On-demand fills finished what a stopped hydrator left.
    const volume = this.#inner.device(lazy.id)?.kind === 'volume';
    if (lazy.missing === 0 && volume && !this.#hydrators.has(lazy.id) && this.#failures.has(lazy.id)) {
      this.#complete(lazy).catch((error: unknown) =>
        this.#logger.warn({ err: error }, 'hydration not recorded'),
      );
    }
  }

  #fetch(lazy: LazyDevice, index: number): Promise<Buffer> {
    const hash = chunkAt(lazy.manifest, index);
    assert(hash !== null, 'fetch of a zero chunk');
    return this.#fetcher.get(hash, chunkLength(lazy.manifest, index));
  }

  // ---- registration ----

  #manifest(snapshotId: string): Promise<Manifest> {
    let manifest = this.#manifests.get(snapshotId);
    if (manifest === undefined) {
      manifest = readManifest(this.#source, snapshotId, this.#retryDeadlineMs);
      manifest.catch(() => this.#manifests.delete(snapshotId));
      this.#manifests.set(snapshotId, manifest);
    }
    return manifest;
  }

  // Presence comes from the pool itself (invariant 1: a chunk with any extent allocated is present).
  #register(id: string, snapshotId: string, manifest: Manifest, hydrate = true): void {
    const device = this.#inner.device(id);
    assert(device !== undefined, `register: ${id} is not in the pool`);
    const { chunkBytes, sizeBytes } = manifest;
    const present = new Uint8Array(Math.ceil(sizeBytes / chunkBytes));
    // One map of the device, not one per chunk: a clone of a 1 TiB snapshot registers on the API path.
    for (const range of this.#inner.mapRange(id, 0, Math.min(sizeBytes, device.sizeBytes))) {
      if (!range.allocated) continue;
      const end = range.offset + range.length;
      for (let index = Math.floor(range.offset / chunkBytes); index * chunkBytes < end; index++)
        present[index] = 1;
    }
    let missing = 0;
    for (const [index] of manifest.chunks) if (present[index] === 0) missing++;
    const lazy: LazyDevice = { id, snapshotId, manifest, present, missing, filling: new Map() };
    this.#lazy.set(id, lazy);
    if (device.kind === 'volume' && hydrate && !this.#closed) this.#startHydrator(lazy);
  }

  #startHydrator(lazy: LazyDevice): void {
    const bytes = lazy.missing * lazy.manifest.chunkBytes;
    this.#logger.info(
      { volumeId: lazy.id, snapshotId: lazy.snapshotId, missingBytes: bytes, bytesPerSecond: this.#rate },
      'hydrating in the background',
    );
    const hydrator = new Hydrator({
      chunks: lazy.manifest.chunks.map(([index]) => index),
      bytesPerSecond: this.#rate,
      chunkBytes: lazy.manifest.chunkBytes,
      isPresent: (index) => lazy.present[index] !== 0,
      fill: (index) => this.fill(lazy.id, index),
      logger: this.#logger.child({ volumeId: lazy.id, snapshotId: lazy.snapshotId }),
      fills: this.#hydrationFills,
      finish: () => this.#complete(lazy),
    });
    this.#hydrators.set(lazy.id, hydrator);
    hydrator.done
      .catch((error: unknown) => {
        if (this.#hydrators.get(lazy.id) !== hydrator) return;
        this.#failures.set(lazy.id, error);
        if (error instanceof ArchiveError && error.code === 'ECANCELED') return;
        // The store may be back later: try again (reads keep fetching on demand meanwhile).
        setTimeout(() => {
          if (this.#closed || this.#lazy.get(lazy.id) !== lazy || this.#hydrators.has(lazy.id)) return;
          this.#failures.delete(lazy.id);
          this.#startHydrator(lazy);
        }, limits.hydrationRetryMs).unref();
      })
      .finally(() => {
        if (this.#hydrators.get(lazy.id) === hydrator) this.#hydrators.delete(lazy.id);
      });
  }

  // Invariant 5: durable fills first, then the record goes.
  async #complete(lazy: LazyDevice): Promise<void> {
    if (this.#lazy.get(lazy.id) !== lazy) return;
    assert(lazy.missing === 0, 'hydrated with chunks missing');
    await this.#inner.flush();
    if (this.#lazy.get(lazy.id) !== lazy) return;
    this.#lazy.delete(lazy.id);
    this.#failures.delete(lazy.id);
    await this.#drop(lazy.id);
    this.#logger.info({ volumeId: lazy.id, snapshotId: lazy.snapshotId }, 'volume hydrated');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#source.cancel();
    const hydrators = [...this.#hydrators.values()];
    for (const hydrator of hydrators) hydrator.stop();
    await Promise.all(hydrators.map((hydrator) => hydrator.done.catch(() => undefined)));
    const fills = [...this.#lazy.values()].flatMap((lazy) => [...lazy.filling.values()]);
    await Promise.allSettled(fills);
    await this.#inner.close();
  }
}

function ignoreMissing(error: unknown): void {
  if (!(error instanceof StoreError && error.code === 'ENOENT')) throw error;
}
