// ModifyVolume and DescribeVolumesModifications. A modification moves modifying → optimizing → completed:
// `modifying` until the store has grown the device and the volume row carries the new settings, then
// `optimizing` for a configurable while (EC2 rebalances; we have nothing to rebalance but keep the state so
// clients that wait on it behave as they will against AWS), then `completed`.
//
// Crash safety: the modification row (`modifying`) commits first; the resize is repeatable (it only grows
// to the target), so `recover()` simply runs the job again for rows left in `modifying` or `optimizing`.
import type { Kysely, Selectable } from 'kysely';
import { units } from '../../base/limits.ts';
import type { Logger } from '../../base/log.ts';
import { ec2Error } from '../errors.ts';
import type { Database } from '../../db/schema.ts';
import { nowIso } from '../../db/schema.ts';
import type { VolumeModificationsTable } from '../../db/tables/volumes.ts';
import type { BlockStore } from '../../storage/block-store.ts';
import { compileFilters, type Filter, type FilterFields } from '../common/filters.ts';
import type { Page, Paginator } from '../common/pagination.ts';
import { parseVolumeType, resolvePerformance } from './volume-types.ts';
import { checkIds, ownedVolume, type VolumeRow } from './lookups.ts';
import { setVolumeAttributes } from './volume-states.ts';
import type { WorkQueue } from '../common/work-queue.ts';
import type { DryRunCheck } from '../common/dry-run.ts';

/** A modification row as read. */
export type VolumeModification = Selectable<VolumeModificationsTable>;

/** ModifyVolume parameters (absent = keep). */
export interface ModifyVolumeRequest {
  readonly sizeGiB: number | undefined;
  readonly volumeType: string | undefined;
  readonly iops: number | undefined;
  readonly throughput: number | undefined;
  readonly multiAttachEnabled: boolean | undefined;
  readonly dryRun: DryRunCheck;
}

/** What the modification service is built from. */
export interface VolumeModificationDeps {
  readonly db: Kysely<Database>;
  readonly store: BlockStore;
  readonly logger: Logger;
  readonly paginator: Paginator;
  readonly work: WorkQueue;
  /** How long a modification stays `optimizing`, in ms. */
  readonly optimizingMs: number;
}

const modificationFields: FilterFields<VolumeModification> = {
  'modification-state': (m) => m.state,
  'volume-id': (m) => m.volume_id,
  'start-time': (m) => m.start_time,
  'target-size': (m) => m.target_size_gib,
  'target-volume-type': (m) => m.target_volume_type,
  'target-iops': (m) => m.target_iops,
  'target-throughput': (m) => m.target_throughput,
  'target-multi-attach-enabled': (m) => m.target_multi_attach_enabled === 1,
  'original-size': (m) => m.original_size_gib,
  'original-volume-type': (m) => m.original_volume_type,
  'original-iops': (m) => m.original_iops,
  'original-throughput': (m) => m.original_throughput,
  'original-multi-attach-enabled': (m) => m.original_multi_attach_enabled === 1,
};

/** ModifyVolume and its progress reports. */
export class VolumeModifications {
  readonly #deps: VolumeModificationDeps;

  constructor(deps: VolumeModificationDeps) {
    this.#deps = deps;
  }

  /** ModifyVolume: grow only; one modification at a time per volume. */
  async modify(
    accountId: string,
    volumeId: string,
    request: ModifyVolumeRequest,
  ): Promise<VolumeModification> {
    const { db } = this.#deps;
    const volume = await ownedVolume(db, accountId, volumeId);
    if (volume.state !== 'available' && volume.state !== 'in-use') {
      throw ec2Error('IncorrectState', `The volume '${volumeId}' is '${volume.state}'.`);
    }
    const current = await db
      .selectFrom('volume_modifications')
      .selectAll()
      .where('volume_id', '=', volumeId)
      .executeTakeFirst();
    if (current !== undefined && current.state !== 'completed' && current.state !== 'failed') {
      throw ec2Error('IncorrectModificationState', `Volume ${volumeId} is already being modified.`);
    }
    const row = planModification(volume, request);
    request.dryRun();
    await db.transaction().execute(async (trx) => {
      await trx.deleteFrom('volume_modifications').where('volume_id', '=', volumeId).execute();
      await trx.insertInto('volume_modifications').values(row).execute();
    });
    this.#enqueue(row);
    return row;
  }

  #enqueue(row: VolumeModification): void {
    const { db, store, work, optimizingMs } = this.#deps;
    const volumeId = row.volume_id;
    work.enqueue(
      volumeId,
      async () => {
        const bytes = row.target_size_gib * units.GiB;
        if ((store.device(volumeId)?.sizeBytes ?? bytes) < bytes) await store.resizeVolume(volumeId, bytes);
        await db.transaction().execute(async (trx) => {
          await setVolumeAttributes(trx, volumeId, {
            size_gib: row.target_size_gib,
            volume_type: row.target_volume_type,
            iops: row.target_iops,
            throughput: row.target_throughput,
            multi_attach_enabled: row.target_multi_attach_enabled,
          });
          await trx
            .updateTable('volume_modifications')
            .set({ state: 'optimizing', progress: 50 })
            .where('volume_id', '=', volumeId)
            .execute();
        });
        // Optimizing must not hold up the volume's other work (snapshots, delete): it waits in its own queue.
        work.enqueue(
          `optimize:${volumeId}`,
          () => this.#finishOptimizing(volumeId, optimizingMs),
          () => Promise.resolve(),
        );
      },
      async (error) => {
        await db
          .updateTable('volume_modifications')
          .set({ state: 'failed', status_message: String(error), end_time: nowIso() })
          .where('volume_id', '=', volumeId)
          .execute();
      },
    );
  }

  async #finishOptimizing(volumeId: string, optimizingMs: number): Promise<void> {
    if (optimizingMs > 0) await new Promise((resolve) => setTimeout(resolve, optimizingMs));
    await this.#deps.db
      .updateTable('volume_modifications')
      .set({ state: 'completed', progress: 100, end_time: nowIso() })
      .where('volume_id', '=', volumeId)
      .where('state', '=', 'optimizing')
      .execute();
  }

  /** DescribeVolumesModifications: the latest modification of each of the caller's volumes. */
  async describe(
    accountId: string,
    volumeIds: readonly string[],
    filters: readonly Filter[],
    maxResults: number | undefined,
    nextToken: string | undefined,
  ): Promise<Page<VolumeModification>> {
    checkIds(volumeIds, 'vol');
    for (const id of volumeIds) await ownedVolume(this.#deps.db, accountId, id);
    const scope = { action: 'DescribeVolumesModifications', accountId, volumeIds, filters };
    const page = this.#deps.paginator.open(scope, maxResults, nextToken, {
      min: 1,
      max: 500,
      clampAbove: true,
    });
    let query = this.#deps.db
      .selectFrom('volume_modifications')
      .selectAll()
      .where('account_id', '=', accountId)
      .orderBy('volume_id');
    if (volumeIds.length > 0) query = query.where('volume_id', 'in', volumeIds);
    if (page.after !== undefined) query = query.where('volume_id', '>', page.after);
    const keep = compileFilters(filters, modificationFields, () => new Map());
    const rows = (await query.execute()).filter(keep);
    return this.#deps.paginator.page(scope, page, rows, (m) => m.volume_id);
  }

  /** Re-runs modifications a crash interrupted; called once at daemon start. */
  async recover(): Promise<void> {
    const rows = await this.#deps.db
      .selectFrom('volume_modifications')
      .selectAll()
      .where('state', 'in', ['modifying', 'optimizing'])
      .execute();
    for (const row of rows) this.#enqueue(row);
  }
}

// The target settings: given values, else the current ones where they still apply to the target type.
function planModification(volume: VolumeRow, request: ModifyVolumeRequest): VolumeModification {
  const { sizeGiB, iops, throughput, multiAttachEnabled } = request;
  if (
    sizeGiB === undefined &&
    request.volumeType === undefined &&
    iops === undefined &&
    throughput === undefined &&
    multiAttachEnabled === undefined
  ) {
    throw ec2Error(
      'MissingParameter',
      'The request must contain at least one of the parameters size, volumeType, iops, throughput, multiAttachEnabled.',
    );
  }
  const type =
    request.volumeType === undefined
      ? parseVolumeType(volume.volume_type)
      : parseVolumeType(request.volumeType);
  const targetSize = sizeGiB ?? volume.size_gib;
  if (targetSize < volume.size_gib) {
    throw ec2Error(
      'InvalidParameterValue',
      `New size cannot be smaller than existing size of ${volume.size_gib}GiB.`,
    );
  }
  const sameType = type === volume.volume_type;
  const keepIops =
    sameType && (type === 'gp3' || type === 'io1' || type === 'io2') ? (volume.iops ?? undefined) : undefined;
  const keepThroughput = sameType && type === 'gp3' ? (volume.throughput ?? undefined) : undefined;
  const performance = resolvePerformance({
    type,
    sizeGiB: targetSize,
    iops: iops ?? keepIops,
    throughput: throughput ?? keepThroughput,
  });
  const multi = multiAttachEnabled ?? volume.multi_attach_enabled === 1;
  if (multi && type !== 'io1' && type !== 'io2') {
    throw ec2Error('InvalidParameterCombination', 'Multi-Attach is supported only on io1 and io2 volumes.');
  }
  return {
    volume_id: volume.id,
    account_id: volume.account_id,
    state: 'modifying',
    status_message: null,
    progress: 0,
    start_time: nowIso(),
    end_time: null,
    original_size_gib: volume.size_gib,
    original_volume_type: volume.volume_type,
    original_iops: volume.iops,
    original_throughput: volume.throughput,
    original_multi_attach_enabled: volume.multi_attach_enabled,
    target_size_gib: targetSize,
    target_volume_type: type,
    target_iops: performance.iops,
    target_throughput: performance.throughput,
    target_multi_attach_enabled: multi ? 1 : 0,
  };
}
