// Offline pool check in the spirit of thin_check: recompute ownership from the mappings and compare.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  MetaDb,
  TOMBSTONE,
  busyTimeoutMs,
  metaFormatVersion,
  type LineageRecord,
  type MetaSnapshot,
} from './meta-db.ts';

/** What fsck found. `problems` empty means consistent; `notes` are harmless (e.g. space awaiting reclaim). */
export interface FsckReport {
  readonly ok: boolean;
  readonly problems: string[];
  readonly notes: string[];
  /** What `repair` changed. */
  readonly repaired: string[];
  readonly stats: {
    readonly extentBytes: number;
    readonly capacityExtents: number;
    readonly highWater: number;
    readonly ownedExtents: number;
    readonly freeExtents: number;
    readonly lineages: number;
    readonly devices: number;
    readonly mappings: number;
  };
}

/** Checks the pool in `dir` (which must not be open). With `repair`, returns leaked extents to the free list. */
export async function fsckPool(dir: string, options: { repair?: boolean } = {}): Promise<FsckReport> {
  const path = join(dir, 'meta.db');
  if (!existsSync(path)) return emptyReport([`no pool metadata at ${path}`]);
  const repaired: string[] = [];
  let integrity: string;
  try {
    if (options.repair === true) repaired.push(...repairPool(path));
    integrity = sqliteIntegrity(path);
  } catch (error) {
    if ((error as { code?: string }).code !== 'SQLITE_BUSY') throw error;
    return emptyReport([`the pool at ${dir} is open in another process (stop the daemon first)`]);
  }
  const problems: string[] = [];
  if (integrity !== 'ok') problems.push(`metadata database damaged: ${integrity}`);
  const meta = new MetaDb(path, { readonly: true });
  let snapshot: MetaSnapshot;
  try {
    snapshot = meta.load();
  } finally {
    meta.close();
  }
  const report = checkSnapshot(snapshot, dir);
  return {
    ...report,
    problems: [...problems, ...report.problems],
    ok: problems.length + report.problems.length === 0,
    repaired,
  };
}

function sqliteIntegrity(path: string): string {
  const db = new Database(path, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
  try {
    const rows = db.pragma('integrity_check') as { integrity_check: string }[];
    return rows.map((row) => row.integrity_check).join('; ');
  } finally {
    db.close();
  }
}

function emptyReport(problems: string[]): FsckReport {
  const stats = {
    extentBytes: 0,
    capacityExtents: 0,
    highWater: 0,
    ownedExtents: 0,
    freeExtents: 0,
    lineages: 0,
    devices: 0,
    mappings: 0,
  };
  return { ok: problems.length === 0, problems, notes: [], repaired: [], stats };
}

/** The pure check over loaded metadata. */
export function checkSnapshot(snapshot: MetaSnapshot, dir?: string): FsckReport {
  const problems: string[] = [];
  const notes: string[] = [];
  const pool = snapshot.pool;
  const extentBytes = pool.get('extent_bytes') ?? 0;
  const capacityExtents = pool.get('capacity_extents') ?? 0;
  const highWater = pool.get('high_water') ?? 0;
  if (pool.get('format_version') !== metaFormatVersion)
    problems.push(`format version ${pool.get('format_version')}`);
  if (extentBytes < 4096 || (extentBytes & (extentBytes - 1)) !== 0)
    problems.push(`bad extent size ${extentBytes}`);
  if (highWater > capacityExtents)
    problems.push(`high water ${highWater} is past capacity ${capacityExtents}`);
  const lineages = new Map(snapshot.lineages.map((l) => [l.id, l]));
  checkLineages(lineages, pool.get('next_lineage') ?? 0, problems);
  const views = checkDevices(snapshot, lineages, problems);
  const owner = new Map<number, string>();
  const rowsByLineage = new Map<number, Map<number, number[]>>();
  for (const m of snapshot.mappings) {
    const name = `mapping (lineage ${m.lineage}, block ${m.block}, gen ${m.birthGen})`;
    const lineage = lineages.get(m.lineage);
    if (lineage === undefined) problems.push(`${name}: lineage does not exist`);
    else if (m.birthGen < 1 || m.birthGen > lineage.gen)
      problems.push(`${name}: born after its lineage's generation ${lineage.gen}`);
    if (m.block < 0) problems.push(`${name}: negative block`);
    let blocks = rowsByLineage.get(m.lineage);
    if (blocks === undefined) rowsByLineage.set(m.lineage, (blocks = new Map()));
    blocks.set(m.block, [...(blocks.get(m.block) ?? []), m.birthGen]);
    if (m.extent === TOMBSTONE) continue;
    if (m.extent < 0 || m.extent >= highWater)
      problems.push(`${name}: extent ${m.extent} outside the pool [0, ${highWater})`);
    const previous = owner.get(m.extent);
    if (previous !== undefined) problems.push(`extent ${m.extent} used twice: by ${previous} and ${name}`);
    owner.set(m.extent, name);
  }
  const free = new Set<number>();
  for (const extent of snapshot.free) {
    if (extent < 0 || extent >= highWater)
      problems.push(`free extent ${extent} outside the pool [0, ${highWater})`);
    if (owner.has(extent)) problems.push(`extent ${extent} is both free and used by ${owner.get(extent)}`);
    free.add(extent);
  }
  const leaked: number[] = [];
  for (let extent = 0; extent < highWater; extent++)
    if (!owner.has(extent) && !free.has(extent)) leaked.push(extent);
  if (leaked.length > 0)
    problems.push(`${leaked.length} extents leaked (neither free nor used): ${preview(leaked)}`);
  checkVisibility(lineages, rowsByLineage, views, notes);
  if (dir !== undefined) checkDataFile(join(dir, 'data'), highWater * extentBytes, notes);
  const stats = {
    extentBytes,
    capacityExtents,
    highWater,
    ownedExtents: owner.size,
    freeExtents: free.size,
    lineages: lineages.size,
    devices: snapshot.devices.length,
    mappings: snapshot.mappings.length,
  };
  return { ok: problems.length === 0, problems, notes, repaired: [], stats };
}

function checkLineages(lineages: Map<number, LineageRecord>, nextLineage: number, problems: string[]): void {
  for (const lineage of lineages.values()) {
    if (lineage.id >= nextLineage)
      problems.push(`lineage ${lineage.id} is not below next_lineage ${nextLineage}`);
    if (lineage.gen < 1) problems.push(`lineage ${lineage.id}: generation ${lineage.gen} < 1`);
    if (lineage.parentLineage === null) continue;
    const parent = lineages.get(lineage.parentLineage);
    if (parent === undefined) {
      problems.push(`lineage ${lineage.id}: parent lineage ${lineage.parentLineage} does not exist`);
      continue;
    }
    if (lineage.parentLineage >= lineage.id)
      problems.push(`lineage ${lineage.id}: parent ${parent.id} is not older (cycle?)`);
    if (lineage.parentGen === null || lineage.parentGen >= parent.gen) {
      problems.push(
        `lineage ${lineage.id}: parent view gen ${lineage.parentGen} not frozen in lineage ${parent.id}`,
      );
    }
    if (lineage.parentBytes === null || lineage.parentBytes <= 0 || lineage.parentBytes % 512 !== 0) {
      problems.push(`lineage ${lineage.id}: bad parent size ${lineage.parentBytes}`);
    }
  }
}

/** Checks devices; returns, per lineage, the view generations (Infinity for a live volume head). */
function checkDevices(snapshot: MetaSnapshot, lineages: Map<number, LineageRecord>, problems: string[]) {
  const views = new Map<number, Set<number>>();
  const add = (lineage: number, gen: number) => {
    let set = views.get(lineage);
    if (set === undefined) views.set(lineage, (set = new Set()));
    return set.has(gen) ? false : (set.add(gen), true);
  };
  for (const device of snapshot.devices) {
    const lineage = lineages.get(device.lineage);
    if (lineage === undefined) {
      problems.push(`device ${device.id}: lineage ${device.lineage} does not exist`);
      continue;
    }
    if (device.sizeBytes <= 0 || device.sizeBytes % 512 !== 0)
      problems.push(`device ${device.id}: bad size ${device.sizeBytes}`);
    if (device.kind === 'volume') {
      if (device.gen !== null) problems.push(`volume ${device.id} has a frozen generation`);
      if (!add(device.lineage, Infinity)) problems.push(`lineage ${device.lineage} has two volumes`);
    } else if (device.gen === null || device.gen >= lineage.gen || device.gen < 1) {
      problems.push(
        `snapshot ${device.id}: generation ${device.gen} not frozen in lineage ${lineage.id} (at ${lineage.gen})`,
      );
    } else if (!add(device.lineage, device.gen)) {
      problems.push(
        `snapshot ${device.id}: another snapshot holds generation ${device.gen} of lineage ${lineage.id}`,
      );
    }
  }
  for (const lineage of lineages.values()) {
    if (lineage.parentLineage !== null && lineage.parentGen !== null)
      add(lineage.parentLineage, lineage.parentGen);
  }
  return views;
}

function checkVisibility(
  lineages: Map<number, LineageRecord>,
  rowsByLineage: Map<number, Map<number, number[]>>,
  views: Map<number, Set<number>>,
  notes: string[],
): void {
  let hidden = 0;
  for (const lineage of lineages.values()) {
    const gens = [...(views.get(lineage.id) ?? [])];
    if (gens.length === 0) notes.push(`lineage ${lineage.id} is unreferenced (awaiting reclaim)`);
    for (const births of rowsByLineage.get(lineage.id)?.values() ?? []) {
      const sorted = [...births].sort((a, b) => b - a);
      sorted.forEach((birth, index) => {
        const upper = index === 0 ? Infinity : sorted[index - 1]!;
        const seen = gens.some((gen) => (gen === Infinity ? index === 0 : gen >= birth && gen < upper));
        if (!seen) hidden++;
      });
    }
  }
  if (hidden > 0) notes.push(`${hidden} mappings no view can see (reclaimed when the pool opens)`);
}

function checkDataFile(path: string, committedBytes: number, notes: string[]): void {
  if (!existsSync(path)) return;
  const size = statSync(path).size;
  if (size > committedBytes)
    notes.push(
      `data file extends ${size - committedBytes} bytes past the committed extents (uncommitted writes; trimmed at open)`,
    );
}

/** Returns leaked extents to the free list and drops bogus free entries; never touches a mapping. */
function repairPool(path: string): string[] {
  const db = new Database(path, { fileMustExist: true, timeout: busyTimeoutMs });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    const highWater =
      (db.prepare("SELECT value FROM pool WHERE key = 'high_water'").pluck().get() as number) ?? 0;
    const owned = new Set(
      db.prepare('SELECT extent FROM mappings WHERE extent >= 0').pluck().all() as number[],
    );
    const free = new Set(db.prepare('SELECT extent FROM free_extents').pluck().all() as number[]);
    const repaired: string[] = [];
    db.transaction(() => {
      const dropFree = db.prepare('DELETE FROM free_extents WHERE extent = ?');
      for (const extent of free) {
        if (extent < 0 || extent >= highWater || owned.has(extent)) {
          dropFree.run(extent);
          repaired.push(
            `removed extent ${extent} from the free list (${owned.has(extent) ? 'in use' : 'outside the pool'})`,
          );
        }
      }
      const addFree = db.prepare('INSERT INTO free_extents VALUES (?)');
      let leaked = 0;
      for (let extent = 0; extent < highWater; extent++) {
        if (owned.has(extent) || free.has(extent)) continue;
        addFree.run(extent);
        leaked++;
      }
      if (leaked > 0) repaired.push(`returned ${leaked} leaked extents to the free list`);
    })();
    return repaired;
  } finally {
    db.close();
  }
}

function preview(values: number[]): string {
  return values.length <= 10 ? values.join(', ') : `${values.slice(0, 10).join(', ')} ...`;
}
