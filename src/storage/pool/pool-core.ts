// The state every part of the pool shares (control operations, the write, trim and read paths): one object
// passed to each part, which are plain functions over it. Only the pool's parts import it.
import { assert } from '../../base/assert.ts';
import { limits } from '../../base/limits.ts';
import type { Logger } from '../../base/log.ts';
import { StoreError } from '../block-store.ts';
import { Allocator } from './allocator.ts';
import type { DataFile } from './data-file.ts';
import type { Device } from './device.ts';
import { GroupCommit, type Changes } from './group-commit.ts';
import { Lineage } from './lineage.ts';
import { TOMBSTONE, type MetaDb, type MetaSnapshot } from './meta-db.ts';
import { ReadTracker } from './read-tracker.ts';
import { Reclaimer } from './reclaim.ts';
import type { Fullness, SpaceGuard } from './space-guard.ts';

/** What the pool opened: the metadata handle and its loaded contents, the data file, the file-system guard. */
export interface PoolParts {
  readonly meta: MetaDb;
  readonly data: DataFile;
  readonly snapshot: MetaSnapshot;
  readonly log: Logger;
  readonly space: SpaceGuard;
  /** Called when the reclaim queue ran empty, so what it freed gets committed. */
  readonly onReclaimIdle: () => void;
}

/** The pool's shared state: the in-memory index, the open commit group, counters and the control chain. */
export class PoolCore {
  readonly extentBytes: number;
  readonly meta: MetaDb;
  readonly data: DataFile;
  readonly log: Logger;
  readonly space: SpaceGuard;
  readonly allocator: Allocator;
  readonly commits: GroupCommit;
  readonly reclaims: Reclaimer;
  readonly lineages = new Map<number, Lineage>();
  readonly devices = new Map<string, Device>();
  /** Listeners told when a device is removed (the NBD server closes its connections). */
  readonly listeners = new Set<(id: string) => void>();
  readonly reads = new ReadTracker();
  /** The id the next new lineage gets (persisted as `next_lineage`). */
  nextLineage: number;
  /** Extents owned by some mapping row. */
  owned = 0;
  /** The tail of the control operations, which run one at a time. */
  control: Promise<void> = Promise.resolve();
  closed = false;
  /** The fullness level last logged. */
  fullness: Fullness = 'ok';

  constructor(parts: PoolParts) {
    const { meta, data, snapshot, log, space } = parts;
    const pool = snapshot.pool;
    this.extentBytes = pool.get('extent_bytes')!;
    assert(this.extentBytes > 0, 'pool: no extent size');
    this.meta = meta;
    this.data = data;
    this.log = log;
    this.space = space;
    this.nextLineage = pool.get('next_lineage')!;
    this.allocator = new Allocator(pool.get('capacity_extents')!, pool.get('high_water')!, snapshot.free);
    this.commits = new GroupCommit({
      meta,
      data,
      space,
      reads: this.reads,
      allocator: this.allocator,
      log,
      extentBytes: this.extentBytes,
      reportFullness: () => this.reportFullness(),
    });
    this.reclaims = new Reclaimer({
      lineages: this.lineages,
      commits: this.commits,
      free: (extent, changes) => this.free(extent, changes),
      isClosed: () => this.closed,
      onIdle: parts.onReclaimIdle,
    });
    this.#loadIndex(snapshot);
  }

  #loadIndex(snapshot: MetaSnapshot): void {
    for (const record of snapshot.lineages) {
      let parent = null;
      if (record.parentLineage !== null) {
        const lineage = this.lineages.get(record.parentLineage);
        assert(lineage !== undefined, `lineage ${record.id}: parent ${record.parentLineage} missing`);
        const bytes = record.parentBytes!;
        parent = { lineage, gen: record.parentGen!, bytes, blocks: Math.ceil(bytes / this.extentBytes) };
      }
      const lineage = new Lineage(record.id, record.gen, parent);
      parent?.lineage.children.add(lineage);
      this.lineages.set(record.id, lineage);
    }
    for (const record of snapshot.devices) {
      const lineage = this.lineages.get(record.lineage);
      assert(lineage !== undefined, `device ${record.id}: lineage ${record.lineage} missing`);
      if (record.kind === 'volume') lineage.volumeId = record.id;
      else lineage.snapshots.set(record.gen!, record.id);
      const gen = record.gen ?? Infinity;
      this.devices.set(record.id, { ...record, lineage, gen });
    }
    for (const m of snapshot.mappings) {
      const lineage = this.lineages.get(m.lineage);
      assert(lineage !== undefined, `mapping: lineage ${m.lineage} missing`);
      let chain = lineage.blocks.get(m.block);
      if (chain === undefined) lineage.blocks.set(m.block, (chain = []));
      chain.unshift({ birth: m.birthGen, extent: m.extent });
      if (m.extent !== TOMBSTONE) this.owned++;
    }
  }

  /** New extents a write may take now: the quota's and the file system's room, whichever is less. */
  available(): number {
    return Math.min(this.allocator.available(), this.space.extentsAvailable());
  }

  /** Frees an owned extent into `changes` and counts it out of the owned total. */
  free(extent: number, changes: Changes): void {
    assert(extent >= 0 && extent < this.allocator.highWater, `free: extent ${extent} out of range`);
    changes.freed.push(extent);
    this.owned--;
  }

  /** Group commit: fdatasync the data file, then commit the metadata batch in one SQLite transaction. */
  commit(): Promise<void> {
    return this.commits.commit();
  }

  /** Throws the failure that stopped the pool, or EBUSY once it is closed. */
  checkOpen(): void {
    if (this.commits.failure !== null) throw this.commits.failure;
    if (this.closed) throw new StoreError('EBUSY', 'the block store is closed');
  }

  /** The device `id`, or ENOENT. */
  find(id: string): Device {
    const device = this.devices.get(id);
    if (device === undefined) throw new StoreError('ENOENT', `no device ${id}`);
    return device;
  }

  /** The volume `id`: ENOENT if missing, EROFS if it is a snapshot. */
  volume(id: string): Device {
    const device = this.find(id);
    if (device.kind !== 'volume') throw new StoreError('EROFS', `${id} is a snapshot (read-only)`);
    return device;
  }

  /** The snapshot `id`: ENOENT if missing, EINVAL if it is a volume. */
  snapshotDevice(id: string): Device {
    const device = this.find(id);
    if (device.kind !== 'snapshot') throw new StoreError('EINVAL', `${id} is a volume, not a snapshot`);
    return device;
  }

  /** Logs when the file system's fullness changes level (high-water mark, full, back to ok). */
  reportFullness(): void {
    const status = this.space.status();
    if (status.fullness === this.fullness) return;
    this.fullness = status.fullness;
    const fields = { ...status, poolUsedBytes: this.owned * this.extentBytes };
    if (status.fullness === 'ok') this.log.info(fields, 'storage: the pool has room again');
    else if (status.fullness === 'high') {
      const mark = limits.storageFullWarnPercent;
      this.log.warn(fields, `storage: the pool's file system is more than ${mark}% full`);
    } else
      this.log.warn(fields, "storage: the pool's file system is full: writes needing new space get ENOSPC");
  }
}
