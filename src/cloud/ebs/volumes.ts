// EBS volumes: CreateVolume, DescribeVolumes, DeleteVolume, DescribeVolumeStatus and the volume attributes.
//
// Crash safety (the database and the block store are two systems; the row always moves first):
// - create: row `creating` committed → store.createVolume/clone → row `available`. On start, a `creating`
//   row whose device exists becomes `available`; one without is created again (the op is repeatable).
// - delete: row `deleting` committed → store.deleteVolume (a missing device is fine) → row and its tags
//   removed. On start, `deleting` rows are finished the same way.
// So a crash leaves at worst a row in a transitional state, which `recover()` completes; the store never
// holds a device that no row points at.
import type { Kysely, Transaction } from 'kysely';
import { newId } from '../../base/ids.ts';
import { assert } from '../../base/assert.ts';
import { units } from '../../base/limits.ts';
import type { Logger } from '../../base/log.ts';
import { CloudError, ec2Error } from '../errors.ts';
import type { Database } from '../../db/schema.ts';
import { nowIso } from '../../db/schema.ts';
import { StoreError, type BlockStore } from '../../storage/block-store.ts';
import type { Regions } from '../common/regions.ts';
import { cloneFromSnapshot, type EnsureSnapshotInPool } from './clone-snapshot.ts';
import { compileFilters, filtersUseTags, type Filter, type FilterFields } from '../common/filters.ts';
import type { Page, Paginator } from '../common/pagination.ts';
import { tagsForResource, type Tag, type TagService, type TagSpecification } from '../common/tags.ts';
import { parseVolumeType, resolvePerformance } from './volume-types.ts';
import type { ClientTokens, RecordToken } from '../common/client-tokens.ts';
import { checkIds, idsWithMaxResults, ownedVolume, visibleSnapshot, type VolumeRow } from './lookups.ts';
import type { WorkQueue } from '../common/work-queue.ts';
import { ArchiveError } from '../../objectstore/snapshot-store.ts';
import type { DryRunCheck } from '../common/dry-run.ts';
import { setVolumeAttributes, transitionVolume, volumeStates, type VolumeState } from './volume-states.ts';
import type { EbsEncryptionDefaults } from './encryption-defaults.ts';

/** A volume with the caller's tags on it. */
export interface Volume {
  readonly row: VolumeRow;
  readonly tags: ReadonlyMap<string, string>;
  /** Its attachment to an instance, if any (from the AttachmentLookup port). */
  readonly attachment?: VolumeAttachment;
}

/** A volume's attachment as DescribeVolumes shows it. */
export interface VolumeAttachment {
  readonly instanceId: string;
  readonly device: string;
  /** attaching | attached | detaching. */
  readonly status: string;
  readonly attachTime: string;
  readonly deleteOnTermination: boolean;
}

// Attachments of the rows one describe call is filtering (rows are fresh objects per call).
const attachmentOfRow = new WeakMap<VolumeRow, VolumeAttachment>();

/** CreateVolume's parameters, as read from the request. */
export interface CreateVolumeRequest {
  readonly zone: string | undefined;
  readonly sizeGiB: number | undefined;
  readonly snapshotId: string | undefined;
  readonly volumeType: string | undefined;
  readonly iops: number | undefined;
  readonly throughput: number | undefined;
  readonly encrypted: boolean | undefined;
  readonly kmsKeyId: string | undefined;
  readonly multiAttachEnabled: boolean | undefined;
  readonly tagSpecifications: readonly TagSpecification[];
  readonly clientToken: string | undefined;
  readonly dryRun: DryRunCheck;
}

/** DescribeVolumes / DescribeVolumeStatus parameters. */
export interface DescribeVolumesRequest {
  readonly volumeIds: readonly string[];
  readonly filters: readonly Filter[];
  readonly maxResults: number | undefined;
  readonly nextToken: string | undefined;
}

/** A validated CreateVolume: the row's settings and the tags to put on it. */
interface CreatePlan extends Omit<VolumeRow, 'id' | 'account_id' | 'state' | 'create_time'> {
  readonly tags: Tag[];
}

/** What the volume service is built from. */
export interface VolumeServiceDeps {
  readonly db: Kysely<Database>;
  readonly store: BlockStore;
  readonly logger: Logger;
  readonly regions: Regions;
  readonly paginator: Paginator;
  readonly tags: TagService;
  readonly work: WorkQueue;
  /** ClientToken idempotency for CreateVolume. */
  readonly clientTokens: ClientTokens;
  /** Restores an archived snapshot whose pool copy is gone (cloud/ebs/snapshot-archive.ts); none without a store. */
  readonly ensureSnapshotInPool?: EnsureSnapshotInPool;
  /** What a volume made from a snapshot waits for before `available` (`--fast-restore`: full hydration). */
  readonly volumeReady?: (volumeId: string) => Promise<void>;
  /** Who a volume is attached to: compute answers (DescribeVolumes' attachmentSet and attachment.* filters). */
  readonly attachments: AttachmentLookup;
  /** The account's encryption by default and default key. */
  readonly encryption: EbsEncryptionDefaults;
}

/** The port through which EBS learns volumes' attachments; compute implements it over its mappings. */
export interface AttachmentLookup {
  /** The attachment of each of `volumeIds` that has one. */
  attachmentsOf(volumeIds: readonly string[]): Promise<ReadonlyMap<string, VolumeAttachment>>;
}

/** DescribeVolumes MaxResults: 5..500, larger values return 500 (EC2 reference). */
export const describeVolumesBounds = { min: 5, max: 500, clampAbove: true } as const;

const volumeFields: FilterFields<VolumeRow> = {
  'availability-zone': (v) => v.availability_zone,
  'create-time': (v) => v.create_time,
  encrypted: (v) => v.encrypted === 1,
  'multi-attach-enabled': (v) => v.multi_attach_enabled === 1,
  'fast-restored': () => false,
  size: (v) => v.size_gib,
  'snapshot-id': (v) => v.snapshot_id ?? '',
  status: (v) => v.state,
  'volume-id': (v) => v.id,
  'volume-type': (v) => v.volume_type,
  iops: (v) => v.iops,
  throughput: (v) => v.throughput,
  'attachment.attach-time': (v) => attachmentOfRow.get(v)?.attachTime,
  'attachment.delete-on-termination': (v) => attachmentOfRow.get(v)?.deleteOnTermination,
  'attachment.device': (v) => attachmentOfRow.get(v)?.device,
  'attachment.instance-id': (v) => attachmentOfRow.get(v)?.instanceId,
  'attachment.status': (v) => attachmentOfRow.get(v)?.status,
  'operator.managed': () => false,
  'operator.principal': () => null,
};

/** The volume service: every method takes the caller's account id. */
export class VolumeService {
  readonly #deps: VolumeServiceDeps;

  constructor(deps: VolumeServiceDeps) {
    this.#deps = deps;
    deps.tags.registerKind({
      prefix: 'vol',
      resourceType: 'volume',
      notFound: 'InvalidVolume.NotFound',
      access: async (accountId, id) => {
        const row = await deps.db
          .selectFrom('volumes')
          .select('id')
          .where('account_id', '=', accountId)
          .where('id', '=', id)
          .executeTakeFirst();
        return row === undefined ? 'missing' : 'owned';
      },
    });
  }

  /** CreateVolume: validates like EC2, records the row `creating`, and makes the device in the background. */
  async create(accountId: string, request: CreateVolumeRequest): Promise<Volume> {
    const plan = await this.#planCreate(accountId, request);
    request.dryRun();
    // An empty ClientToken counts as none; `dryRun: false` keeps the digests of tokens recorded before.
    const scope = { accountId, action: 'CreateVolume', params: { ...request, dryRun: false } };
    return this.#deps.clientTokens.once(
      { ...scope, token: request.clientToken === '' ? undefined : request.clientToken },
      {
        create: (record) => this.#insertVolume(accountId, plan, record),
        replay: (volumeId) => this.#replay(accountId, volumeId),
      },
    );
  }

  async #insertVolume(
    accountId: string,
    { tags, ...plan }: CreatePlan,
    recordToken: RecordToken | undefined,
  ): Promise<Volume> {
    const { db } = this.#deps;
    const row: VolumeRow = {
      ...plan,
      id: newId('vol'),
      account_id: accountId,
      state: 'creating',
      create_time: nowIso(),
    };
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('volumes').values(row).execute();
      await this.#deps.tags.putTags(trx, accountId, row.id, 'volume', tags);
      await recordToken?.(trx, row.id);
    });
    this.#enqueueCreate(row);
    return { row, tags: new Map(tags.map((t) => [t.key, t.value])) };
  }

  async #replay(accountId: string, volumeId: string): Promise<Volume> {
    const [volume] = await this.#withTags(accountId, await this.#rows(accountId, [volumeId]));
    if (volume === undefined) {
      throw ec2Error(
        'IdempotentParameterMismatch',
        'The client token you have provided is associated with a resource that is already deleted. Please use a different client token.',
      );
    }
    return volume;
  }

  async #planCreate(accountId: string, request: CreateVolumeRequest): Promise<CreatePlan> {
    if (request.zone === undefined || request.zone === '')
      throw new CloudError('MissingParameter', { name: 'AvailabilityZone' });
    if (this.#deps.regions.zone(request.zone) === undefined)
      throw new CloudError('InvalidZone.NotFound', { zone: request.zone });
    const volumeType = parseVolumeType(request.volumeType);
    let sizeGiB = request.sizeGiB;
    let encrypted = request.encrypted === true;
    if (request.snapshotId !== undefined) {
      const { row: snapshot } = await visibleSnapshot(this.#deps.db, accountId, request.snapshotId);
      if (snapshot.state !== 'completed') {
        throw ec2Error('IncorrectState', `Snapshot is in invalid state - ${snapshot.state}`);
      }
      sizeGiB ??= snapshot.volume_size_gib;
      if (sizeGiB < snapshot.volume_size_gib) {
        throw ec2Error(
          'InvalidParameterValue',
          `Volume of ${sizeGiB}GiB is too small; minimum is ${snapshot.volume_size_gib}GiB.`,
        );
      }
      encrypted ||= snapshot.encrypted === 1;
    }
    if (sizeGiB === undefined) throw new CloudError('MissingParameter', { name: 'size or snapshotId' });
    const performance = resolvePerformance({
      type: volumeType,
      sizeGiB,
      iops: request.iops,
      throughput: request.throughput,
    });
    if (request.multiAttachEnabled === true && volumeType !== 'io1' && volumeType !== 'io2') {
      throw ec2Error('InvalidParameterCombination', `Multi-Attach is supported only on io1 and io2 volumes.`);
    }
    if (request.kmsKeyId !== undefined && !encrypted) {
      throw ec2Error(
        'InvalidParameterDependency',
        'The parameter KmsKeyId requires the parameter Encrypted to be set.',
      );
    }
    const sealed = await this.#deps.encryption.resolve(accountId, encrypted, request.kmsKeyId);
    return {
      availability_zone: request.zone,
      size_gib: sizeGiB,
      snapshot_id: request.snapshotId ?? null,
      volume_type: volumeType,
      iops: performance.iops,
      throughput: performance.throughput,
      encrypted: sealed.encrypted ? 1 : 0,
      kms_key_id: sealed.kmsKeyId,
      multi_attach_enabled: request.multiAttachEnabled === true ? 1 : 0,
      auto_enable_io: 0,
      tags: tagsForResource(request.tagSpecifications, 'volume'),
    };
  }

  #enqueueCreate(row: VolumeRow): void {
    const { work, db } = this.#deps;
    work.enqueue(
      row.id,
      async () => {
        await this.#makeDevice(row);
        if (row.snapshot_id !== null) await this.#deps.volumeReady?.(row.id);
        await transitionVolume(db, row.id, ['creating'], 'available');
      },
      async (error) => {
        // A restore from the archive cut by shutdown stays `creating`: recover() creates it again.
        if (error instanceof ArchiveError && error.code === 'ECANCELED') return;
        await transitionVolume(db, row.id, volumeStates, 'error');
      },
    );
  }

  // Repeatable: a device left by an interrupted attempt is kept (it is exactly what the attempt made).
  async #makeDevice(row: VolumeRow): Promise<void> {
    const { store } = this.#deps;
    if (store.device(row.id) !== undefined) return;
    const bytes = row.size_gib * units.GiB;
    if (row.snapshot_id !== null) {
      await cloneFromSnapshot(store, this.#deps.ensureSnapshotInPool, row.snapshot_id, row.id, bytes);
    } else await store.createVolume(row.id, bytes);
    assert(store.device(row.id)?.sizeBytes === bytes, `store made ${row.id} with the wrong size`);
  }

  /** DescribeVolumes: the caller's volumes, by id or filter, paged. */
  async describe(accountId: string, request: DescribeVolumesRequest): Promise<Page<Volume>> {
    return this.#describePage(accountId, request, 'DescribeVolumes', describeVolumesBounds);
  }

  async #describePage(
    accountId: string,
    request: DescribeVolumesRequest,
    action: string,
    bounds: { min: number; max: number; clampAbove: boolean },
  ): Promise<Page<Volume>> {
    const { volumeIds, filters, maxResults, nextToken } = request;
    checkIds(volumeIds, 'vol');
    if (volumeIds.length > 0 && maxResults !== undefined) throw idsWithMaxResults('volumeSet');
    const scope = { action, accountId, filters, volumeIds };
    const page = this.#deps.paginator.open(scope, maxResults, nextToken, bounds);
    // Without filters the database can stop at one row past the page.
    const sqlLimit = filters.length === 0 && page.limit !== undefined ? page.limit + 1 : undefined;
    const rows = await this.#rows(accountId, volumeIds, page.after, sqlLimit);
    if (volumeIds.length > 0) this.#checkAllFound(volumeIds, rows);
    let matching = rows;
    if (filters.length > 0) {
      const tags = filtersUseTags(filters)
        ? await this.#deps.tags.tagsOf(accountId)
        : new Map<string, Map<string, string>>();
      if (filters.some((f) => f.name.startsWith('attachment.'))) {
        const attachments = await this.#deps.attachments.attachmentsOf(rows.map((r) => r.id));
        for (const row of rows) {
          const attachment = attachments.get(row.id);
          if (attachment !== undefined) attachmentOfRow.set(row, attachment);
        }
      }
      const keep = compileFilters(filters, volumeFields, (v) => tags.get(v.id) ?? new Map());
      matching = rows.filter(keep);
    }
    const paged = this.#deps.paginator.page(scope, page, matching, (v) => v.id);
    return { items: await this.#withTags(accountId, paged.items), nextToken: paged.nextToken };
  }

  async #rows(
    accountId: string,
    ids: readonly string[],
    after?: string,
    limit?: number,
  ): Promise<VolumeRow[]> {
    let query = this.#deps.db
      .selectFrom('volumes')
      .selectAll()
      .where('account_id', '=', accountId)
      .orderBy('id');
    if (ids.length > 0) query = query.where('id', 'in', ids);
    if (after !== undefined) query = query.where('id', '>', after);
    if (limit !== undefined) query = query.limit(limit);
    return query.execute();
  }

  #checkAllFound(ids: readonly string[], rows: readonly VolumeRow[]): void {
    const found = new Set(rows.map((r) => r.id));
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length > 0) throw new CloudError('InvalidVolume.NotFound', { id: missing.join(', ') });
  }

  async #withTags(accountId: string, rows: readonly VolumeRow[]): Promise<Volume[]> {
    const tags = await this.#deps.tags.tagsOf(
      accountId,
      rows.map((r) => r.id),
    );
    const attachments = await this.#deps.attachments.attachmentsOf(rows.map((r) => r.id));
    return rows.map((row) => ({
      row,
      tags: tags.get(row.id) ?? new Map(),
      attachment: attachments.get(row.id),
    }));
  }

  /** One of the caller's volumes with its tags, or InvalidVolume.NotFound. */
  async get(accountId: string, volumeId: string): Promise<Volume> {
    const row = await ownedVolume(this.#deps.db, accountId, volumeId);
    const [volume] = await this.#withTags(accountId, [row]);
    assert(volume !== undefined, 'a found volume has a description');
    return volume;
  }

  /** EC2's VolumeInUse for `volumeId`, naming the instance it is attached to (`how`: "currently attached to"). */
  async inUseError(volumeId: string, how: string): Promise<CloudError> {
    const attachment = (await this.#deps.attachments.attachmentsOf([volumeId])).get(volumeId);
    return ec2Error('VolumeInUse', `Volume ${volumeId} is ${how} ${attachment?.instanceId ?? 'an instance'}`);
  }

  /** DeleteVolume: refuses volumes in use or in transition; the row goes `deleting`, then away. */
  async delete(accountId: string, volumeId: string, dryRun: DryRunCheck): Promise<void> {
    const row = await ownedVolume(this.#deps.db, accountId, volumeId);
    if (row.state === 'in-use') throw await this.inUseError(volumeId, 'currently attached to');
    if (row.state !== 'available' && row.state !== 'error') {
      throw ec2Error('IncorrectState', `The volume '${volumeId}' is '${row.state}' and cannot be deleted.`);
    }
    dryRun();
    const moved = await transitionVolume(this.#deps.db, volumeId, [row.state as VolumeState], 'deleting');
    if (!moved) throw ec2Error('IncorrectState', `The volume '${volumeId}' changed state; try again.`);
    this.#enqueueDelete(volumeId);
  }

  #enqueueDelete(volumeId: string): void {
    const { work, db, store, tags } = this.#deps;
    work.enqueue(
      volumeId,
      async () => {
        await store.deleteVolume(volumeId).catch((error: unknown) => {
          if (!(error instanceof StoreError && error.code === 'ENOENT')) throw error;
        });
        await db.transaction().execute(async (trx) => {
          await tags.dropAll(trx, volumeId);
          await trx.deleteFrom('volume_modifications').where('volume_id', '=', volumeId).execute();
          await trx.deleteFrom('volumes').where('id', '=', volumeId).execute();
        });
      },
      async () => {
        await transitionVolume(db, volumeId, volumeStates, 'error');
      },
    );
  }

  /** Completes transitions a crash interrupted (see the file comment); called once at daemon start. */
  async recover(): Promise<void> {
    const { db } = this.#deps;
    const stuck = await db
      .selectFrom('volumes')
      .selectAll()
      .where('state', 'in', ['creating', 'deleting'])
      .execute();
    for (const row of stuck) {
      this.#deps.logger.info(
        { volumeId: row.id, state: row.state },
        'completing interrupted volume transition',
      );
      if (row.state === 'creating') this.#enqueueCreate(row);
      else this.#enqueueDelete(row.id);
    }
  }

  /**
   * For compute's AttachVolume/DetachVolume: moves the volume available ⇄ in-use, only from the expected
   * state; returns false (and changes nothing) when the volume is not in `from`.
   */
  async setInUse(accountId: string, volumeId: string, inUse: boolean): Promise<boolean> {
    const [from, to]: VolumeState[] = inUse ? ['available', 'in-use'] : ['in-use', 'available'];
    return transitionVolume(this.#deps.db, volumeId, [from as VolumeState], to as VolumeState, accountId);
  }

  /** For RunInstances: records its new volumes `creating`, in compute's transaction; compute then materializes them. */
  async insertForInstance(trx: Transaction<Database>, rows: readonly VolumeRow[]): Promise<void> {
    assert(
      rows.every((r) => r.state === 'creating'),
      'volumes start creating',
    );
    if (rows.length > 0) await trx.insertInto('volumes').values(rows).execute();
  }

  /**
   * For an instance launch: makes the device of a volume RunInstances recorded (repeatable; archived snapshots
   * come back first). After a restart EBS recovery may make the same `creating` volume concurrently: either wins.
   */
  async materialize(volumeId: string, sizeGiB: number, snapshotId: string | null): Promise<void> {
    const { store, ensureSnapshotInPool } = this.#deps;
    if (store.device(volumeId) !== undefined) return;
    const bytes = sizeGiB * units.GiB;
    const made =
      snapshotId !== null
        ? cloneFromSnapshot(store, ensureSnapshotInPool, snapshotId, volumeId, bytes)
        : store.createVolume(volumeId, bytes);
    await made.catch((error: unknown) => {
      if (store.device(volumeId) === undefined) throw error;
    });
  }

  /** For an instance launch: a materialized volume goes `in-use`, inside compute's transaction. */
  async attachToInstance(trx: Transaction<Database>, volumeId: string): Promise<void> {
    await transitionVolume(trx, volumeId, ['creating', 'available'], 'in-use');
  }

  /** For an instance that let go of a volume (terminate): back to `available`, or `error` when its device is gone. */
  async release(volumeId: string): Promise<void> {
    const to = this.#deps.store.device(volumeId) === undefined ? 'error' : 'available';
    await transitionVolume(this.#deps.db, volumeId, ['in-use', 'creating'], to);
  }

  /** DescribeVolumeStatus: health of the caller's volumes (always ok: the pool has no degraded states yet). */
  async describeStatus(accountId: string, request: DescribeVolumesRequest): Promise<Page<Volume>> {
    const statusFilters = request.filters.filter(
      (f) =>
        f.name.startsWith('volume-status.') || f.name.startsWith('event.') || f.name.startsWith('action.'),
    );
    const volumeFilters = request.filters.filter(
      (f) => !statusFilters.includes(f) && f.name === 'availability-zone',
    );
    const unknown = request.filters.find((f) => !statusFilters.includes(f) && !volumeFilters.includes(f));
    if (unknown) throw ec2Error('InvalidParameterValue', `The filter '${unknown.name}' is invalid`);
    const page = await this.#describePage(
      accountId,
      { ...request, filters: volumeFilters },
      'DescribeVolumeStatus',
      {
        min: 5,
        max: 1000,
        clampAbove: false,
      },
    );
    const keep = compileFilters(statusFilters, volumeStatusFields, () => new Map());
    return { items: page.items.filter((v) => keep(v.row)), nextToken: page.nextToken };
  }

  /** DescribeVolumeAttribute / ModifyVolumeAttribute: autoEnableIO (productCodes is always empty). */
  async setAutoEnableIo(
    accountId: string,
    volumeId: string,
    value: boolean,
    dryRun: DryRunCheck,
  ): Promise<void> {
    await ownedVolume(this.#deps.db, accountId, volumeId);
    dryRun();
    await setVolumeAttributes(this.#deps.db, volumeId, { auto_enable_io: value ? 1 : 0 }, accountId);
  }
}

/** The status EC2 reports for a volume: `ok` once it exists, `insufficient-data` while it is being made. */
export function volumeStatus(row: VolumeRow): 'ok' | 'insufficient-data' {
  return row.state === 'creating' ? 'insufficient-data' : 'ok';
}

const volumeStatusFields: FilterFields<VolumeRow> = {
  'volume-status.status': (v) => volumeStatus(v),
  'volume-status.details-name': () => ['io-enabled', 'io-performance'],
  'volume-status.details-status': (v) => (volumeStatus(v) === 'ok' ? ['passed', 'not-applicable'] : []),
  'event.description': () => null,
  'event.event-id': () => null,
  'event.event-type': () => null,
  'event.not-after': () => null,
  'event.not-before': () => null,
  'action.code': () => null,
  'action.description': () => null,
  'action.event-id': () => null,
};
