// The pool's metadata in SQLite (WAL, synchronous=FULL): loaded whole at open, persisted in batched commits.
import Database from 'better-sqlite3';
import { assert } from '../../base/assert.ts';

/** On-disk format version, bumped on incompatible schema changes. */
export const metaFormatVersion = 1;
/** How long an opener waits for a pool another process holds before it reports EBUSY. */
export const busyTimeoutMs = 200;
/** Extent value of a mapping row that reads as zeros (a trim that must hide an older row or a parent). */
export const TOMBSTONE = -1;

/** A lineage row: one writable volume's chain of states. `parent*` set for clones. */
export interface LineageRecord {
  readonly id: number;
  readonly gen: number;
  readonly parentLineage: number | null;
  readonly parentGen: number | null;
  readonly parentBytes: number | null;
}

/** A device row; `gen` is null for a volume (its lineage's head). */
export interface DeviceRecord {
  readonly id: string;
  readonly kind: 'volume' | 'snapshot';
  readonly lineage: number;
  readonly gen: number | null;
  readonly sizeBytes: number;
  readonly parentId: string | null;
}

/** A mapping row: block `block` of `lineage`, born at `birthGen`, stored in `extent` (or TOMBSTONE). */
export interface MappingRecord {
  readonly lineage: number;
  readonly block: number;
  readonly birthGen: number;
  readonly extent: number;
}

/** Everything a commit persists; later entries for the same key replace earlier ones. */
export class Batch {
  readonly mappings = new Map<
    string,
    MappingRecord | { lineage: number; block: number; birthGen: number; extent: null }
  >();
  /** extent -> true (is free) / false (is not free). */
  readonly free = new Map<number, boolean>();
  readonly pool = new Map<string, number>();
  readonly lineages = new Map<number, LineageRecord | null>();
  readonly devices = new Map<string, DeviceRecord | null>();

  /** Records a mapping row; `extent` null deletes it. */
  setMapping(lineage: number, block: number, birthGen: number, extent: number | null): void {
    this.mappings.set(`${lineage}:${block}:${birthGen}`, { lineage, block, birthGen, extent });
  }

  /** Adds `older`'s entries under this batch's own, which win (a failed commit's batch goes back in front). */
  takeOlder(older: Batch): void {
    const under = <K, V>(mine: Map<K, V>, theirs: Map<K, V>) => {
      for (const [key, value] of theirs) if (!mine.has(key)) mine.set(key, value);
    };
    under(this.mappings, older.mappings);
    under(this.free, older.free);
    under(this.pool, older.pool);
    under(this.lineages, older.lineages);
    under(this.devices, older.devices);
  }

  /** Whether there is nothing to persist. */
  isEmpty(): boolean {
    return (
      this.mappings.size + this.free.size + this.pool.size + this.lineages.size + this.devices.size === 0
    );
  }
}

/** Everything the pool keeps in memory, as loaded. */
export interface MetaSnapshot {
  readonly pool: ReadonlyMap<string, number>;
  readonly lineages: LineageRecord[];
  readonly devices: DeviceRecord[];
  readonly mappings: MappingRecord[];
  readonly free: number[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS pool (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS lineages (id INTEGER PRIMARY KEY, gen INTEGER NOT NULL,
  parent_lineage INTEGER, parent_gen INTEGER, parent_bytes INTEGER);
CREATE TABLE IF NOT EXISTS devices (id TEXT PRIMARY KEY, kind TEXT NOT NULL, lineage INTEGER NOT NULL,
  gen INTEGER, size_bytes INTEGER NOT NULL, parent_id TEXT);
CREATE TABLE IF NOT EXISTS mappings (lineage INTEGER NOT NULL, block INTEGER NOT NULL,
  birth_gen INTEGER NOT NULL, extent INTEGER NOT NULL, PRIMARY KEY (lineage, block, birth_gen)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS free_extents (extent INTEGER PRIMARY KEY);
`;

/** The metadata database of one pool. */
export class MetaDb {
  readonly #db: Database.Database;
  readonly #apply: (batch: Batch) => void;

  constructor(path: string, options: { readonly?: boolean } = {}) {
    this.#db = new Database(path, {
      readonly: options.readonly === true,
      fileMustExist: options.readonly === true,
      timeout: busyTimeoutMs,
    });
    if (options.readonly !== true) {
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = FULL');
      // One process owns a pool: a second opener (or fsck while the daemon runs) gets SQLITE_BUSY.
      this.#db.pragma('locking_mode = EXCLUSIVE');
      this.#db.exec(SCHEMA);
    }
    this.#apply =
      options.readonly === true ? () => assert(false, 'read-only metadata') : this.#prepareApply();
  }

  #prepareApply(): (batch: Batch) => void {
    const db = this.#db;
    const putMapping = db.prepare('INSERT OR REPLACE INTO mappings VALUES (?, ?, ?, ?)');
    const delMapping = db.prepare('DELETE FROM mappings WHERE lineage = ? AND block = ? AND birth_gen = ?');
    const putFree = db.prepare('INSERT OR IGNORE INTO free_extents VALUES (?)');
    const delFree = db.prepare('DELETE FROM free_extents WHERE extent = ?');
    const putPool = db.prepare('INSERT OR REPLACE INTO pool VALUES (?, ?)');
    const putLineage = db.prepare('INSERT OR REPLACE INTO lineages VALUES (?, ?, ?, ?, ?)');
    const delLineage = db.prepare('DELETE FROM lineages WHERE id = ?');
    const putDevice = db.prepare('INSERT OR REPLACE INTO devices VALUES (?, ?, ?, ?, ?, ?)');
    const delDevice = db.prepare('DELETE FROM devices WHERE id = ?');
    return db.transaction((batch: Batch) => {
      for (const [key, value] of batch.pool) putPool.run(key, value);
      for (const [id, l] of batch.lineages) {
        if (l === null) delLineage.run(id);
        else putLineage.run(l.id, l.gen, l.parentLineage, l.parentGen, l.parentBytes);
      }
      for (const [id, d] of batch.devices) {
        if (d === null) delDevice.run(id);
        else putDevice.run(d.id, d.kind, d.lineage, d.gen, d.sizeBytes, d.parentId);
      }
      for (const m of batch.mappings.values()) {
        if (m.extent === null) delMapping.run(m.lineage, m.block, m.birthGen);
        else putMapping.run(m.lineage, m.block, m.birthGen, m.extent);
      }
      for (const [extent, isFree] of batch.free) {
        if (isFree) putFree.run(extent);
        else delFree.run(extent);
      }
    });
  }

  /** Rows written and transactions committed since open (for benchmarks: metadata cost per operation). */
  readonly stats = { commits: 0, rowsWritten: 0 };

  /** Persists a batch atomically and durably (one SQLite transaction, synchronous=FULL). */
  apply(batch: Batch): void {
    this.#apply(batch);
    this.stats.commits++;
    this.stats.rowsWritten +=
      batch.mappings.size + batch.free.size + batch.pool.size + batch.lineages.size + batch.devices.size;
  }

  /** Loads the whole metadata. */
  load(): MetaSnapshot {
    const db = this.#db;
    const pool = new Map<string, number>();
    for (const row of db.prepare('SELECT key, value FROM pool').all() as { key: string; value: number }[]) {
      pool.set(row.key, row.value);
    }
    const lineages = (
      db.prepare('SELECT * FROM lineages ORDER BY id').all() as {
        id: number;
        gen: number;
        parent_lineage: number | null;
        parent_gen: number | null;
        parent_bytes: number | null;
      }[]
    ).map((r) => ({
      id: r.id,
      gen: r.gen,
      parentLineage: r.parent_lineage,
      parentGen: r.parent_gen,
      parentBytes: r.parent_bytes,
    }));
    const devices = (
      db.prepare('SELECT * FROM devices ORDER BY id').all() as {
        id: string;
        kind: 'volume' | 'snapshot';
        lineage: number;
        gen: number | null;
        size_bytes: number;
        parent_id: string | null;
      }[]
    ).map((r) => ({
      id: r.id,
      kind: r.kind,
      lineage: r.lineage,
      gen: r.gen,
      sizeBytes: r.size_bytes,
      parentId: r.parent_id,
    }));
    const mappings = (
      db
        .prepare(
          'SELECT lineage, block, birth_gen AS birthGen, extent FROM mappings ORDER BY lineage, block, birth_gen',
        )
        .raw(false)
        .all() as MappingRecord[]
    ).map((m) => ({ lineage: m.lineage, block: m.block, birthGen: m.birthGen, extent: m.extent }));
    const free = (
      db.prepare('SELECT extent FROM free_extents ORDER BY extent').pluck().all() as number[]
    ).slice();
    return { pool, lineages, devices, mappings, free };
  }

  /** Closes the database. */
  close(): void {
    this.#db.close();
  }
}
