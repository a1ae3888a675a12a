// Fast snapshot restore (Enable/Disable/DescribeFastSnapshotRestores), per snapshot and availability zone.
// In Strata a volume made from a snapshot in the pool is a constant-time clone with no first-read penalty,
// which is what fast snapshot restore buys in EC2; so an enabled snapshot is `enabled` at once. What it maps
// to is the eager restore of an archived snapshot: a volume made from it in such a zone waits for its full
// hydration before `available`, as `--fast-restore` does for every volume (snapshot-archive.ts volumeReady).
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { nowIso } from '../../db/schema.ts';
import type { FastSnapshotRestoresTable } from '../../db/tables/ebs-settings.ts';
import { CloudError } from '../errors.ts';
import type { DryRunCheck } from '../common/dry-run.ts';
import { compileFilters, type Filter, type FilterFields } from '../common/filters.ts';
import type { Page, Paginator } from '../common/pagination.ts';
import type { Regions } from '../common/regions.ts';
import { checkIds, visibleSnapshot } from './lookups.ts';

/** One snapshot in one zone, as the actions report it. */
export interface FastRestore {
  readonly snapshotId: string;
  readonly zone: string;
  readonly state: string;
  readonly ownerId: string;
  readonly enablingTime: string;
  readonly enabledTime: string | null;
  readonly disablingTime?: string;
}

/** A (snapshot, zone) pair that could not change, with EC2's error. */
export interface FastRestoreFailure {
  readonly snapshotId: string;
  readonly zone: string;
  readonly code: string;
  readonly message: string;
}

/** What Enable and Disable answer. */
export interface FastRestoreChange {
  readonly successful: FastRestore[];
  readonly unsuccessful: FastRestoreFailure[];
}

const fields: FilterFields<FastRestore> = {
  'availability-zone': (r) => r.zone,
  'owner-id': (r) => r.ownerId,
  'snapshot-id': (r) => r.snapshotId,
  state: (r) => r.state,
};

/** DescribeFastSnapshotRestores MaxResults: 0..200, as EC2. */
const bounds = { min: 0, max: 200, clampAbove: false } as const;

/** The one writer of `fast_snapshot_restores`. */
export class FastSnapshotRestores {
  readonly #deps: { db: Kysely<Database>; regions: Regions; paginator: Paginator };

  constructor(deps: { db: Kysely<Database>; regions: Regions; paginator: Paginator }) {
    this.#deps = deps;
  }

  /** EnableFastSnapshotRestores (`on`) or Disable: each owned, completed snapshot in each zone; the rest fail one by one. */
  async change(
    accountId: string,
    on: boolean,
    targets: { zones: readonly string[]; snapshotIds: readonly string[] },
    dryRun: DryRunCheck,
  ): Promise<FastRestoreChange> {
    const pairs = await this.#pairs(accountId, targets.zones, targets.snapshotIds);
    dryRun();
    const now = nowIso();
    const successful: FastRestore[] = [];
    for (const { snapshotId, zone } of pairs.ok) {
      const key = { snapshot_id: snapshotId, availability_zone: zone, account_id: accountId };
      const row = { ...key, state: 'enabled', enabling_time: now, enabled_time: now };
      if (on) await this.#insert(row);
      else await this.#delete(snapshotId, zone);
      // EC2 answers `enabling` or `disabling`; the state moves on as Describe shows.
      const answer = on
        ? { state: 'enabling', enabledTime: null }
        : { state: 'disabling', disablingTime: now };
      successful.push({ ...toRestore(row), ...answer });
    }
    return { successful, unsuccessful: pairs.failed };
  }

  async #insert(row: FastSnapshotRestoresTable): Promise<void> {
    await this.#deps.db
      .insertInto('fast_snapshot_restores')
      .values(row)
      .onConflict((oc) => oc.columns(['snapshot_id', 'availability_zone']).doNothing())
      .execute();
  }

  async #delete(snapshotId: string, zone: string): Promise<void> {
    await this.#deps.db
      .deleteFrom('fast_snapshot_restores')
      .where('snapshot_id', '=', snapshotId)
      .where('availability_zone', '=', zone)
      .execute();
  }

  /** DescribeFastSnapshotRestores: the caller's, filtered and paged. */
  async describe(
    accountId: string,
    request: { filters: readonly Filter[]; maxResults: number | undefined; nextToken: string | undefined },
  ): Promise<Page<FastRestore>> {
    const { paginator, db } = this.#deps;
    const scope = { action: 'DescribeFastSnapshotRestores', accountId, filters: request.filters };
    const page = paginator.open(scope, request.maxResults, request.nextToken, bounds);
    const rows = await db
      .selectFrom('fast_snapshot_restores')
      .selectAll()
      .where('account_id', '=', accountId)
      .orderBy('snapshot_id')
      .orderBy('availability_zone')
      .execute();
    const keep = compileFilters(request.filters, fields, () => new Map());
    const key = (r: FastRestore): string => `${r.snapshotId}/${r.zone}`;
    const after = page.after;
    const items = rows.map(toRestore).filter((r) => keep(r) && (after === undefined || key(r) > after));
    return paginator.page(scope, page, items, key);
  }

  /** Whether fast restore is enabled for `snapshotId` in `zone` (CreateVolume's eager restore). */
  async enabledIn(snapshotId: string, zone: string): Promise<boolean> {
    const row = await this.#deps.db
      .selectFrom('fast_snapshot_restores')
      .select('state')
      .where('snapshot_id', '=', snapshotId)
      .where('availability_zone', '=', zone)
      .executeTakeFirst();
    return row?.state === 'enabled';
  }

  async #pairs(
    accountId: string,
    zones: readonly string[],
    snapshotIds: readonly string[],
  ): Promise<{ ok: { snapshotId: string; zone: string }[]; failed: FastRestoreFailure[] }> {
    if (zones.length === 0) throw new CloudError('MissingParameter', { name: 'AvailabilityZone' });
    if (snapshotIds.length === 0) throw new CloudError('MissingParameter', { name: 'SourceSnapshotId' });
    checkIds(snapshotIds, 'snap');
    for (const zone of zones)
      if (this.#deps.regions.zone(zone) === undefined) throw new CloudError('InvalidZone.NotFound', { zone });
    const ok: { snapshotId: string; zone: string }[] = [];
    const failed: FastRestoreFailure[] = [];
    for (const snapshotId of snapshotIds) {
      const problem = await this.#problem(accountId, snapshotId);
      for (const zone of zones) {
        if (problem === undefined) ok.push({ snapshotId, zone });
        else failed.push({ snapshotId, zone, ...problem });
      }
    }
    return { ok, failed };
  }

  // Only the owner may change fast restore, and only of a completed snapshot.
  async #problem(
    accountId: string,
    snapshotId: string,
  ): Promise<{ code: string; message: string } | undefined> {
    try {
      const { row, access } = await visibleSnapshot(this.#deps.db, accountId, snapshotId);
      if (access !== 'owned') throw new CloudError('InvalidSnapshot.NotFound', { id: snapshotId });
      if (row.state !== 'completed')
        return { code: 'IncorrectState', message: `Snapshot ${snapshotId} is ${row.state}, not completed.` };
      return undefined;
    } catch (error) {
      if (error instanceof CloudError) return { code: error.code, message: error.message };
      throw error;
    }
  }
}

function toRestore(row: FastSnapshotRestoresTable): FastRestore {
  return {
    snapshotId: row.snapshot_id,
    zone: row.availability_zone,
    state: row.state,
    ownerId: row.account_id,
    enablingTime: row.enabling_time,
    enabledTime: row.enabled_time,
  };
}
