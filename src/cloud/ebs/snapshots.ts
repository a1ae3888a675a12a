// EBS snapshots: CreateSnapshot, DescribeSnapshots, DeleteSnapshot, CopySnapshot.
// Sharing (createVolumePermission) lives in snapshot-permissions.ts.
//
// Crash safety (row first, then store, then row):
// - create: row `pending` committed → store.snapshot (point in time fixed when the request returns) →
//   store.flush → row `completed`, 100%. On start, a `pending` row whose device exists completes; one
//   without is marked `error` (its point in time is gone; EC2 also has an `error` state).
// - copy: row `pending` → store.clone(source, temp volume) → store.snapshot(temp, copy) → delete temp →
//   `completed`. The temp volume's id derives from the copy's id, so `recover()` can remove it.
// - delete: row `deleting` (hidden from every describe) → store.deleteSnapshot → row removed (with an
//   archive: the archived copy first, or, while volumes read through to it, later: see #purge).
import type { Kysely } from 'kysely';
import { newId } from '../../base/ids.ts';
import { assert } from '../../base/assert.ts';
import { limits } from '../../base/limits.ts';
import type { Logger } from '../../base/log.ts';
import { CloudError, ec2Error } from '../errors.ts';
import type { Database } from '../../db/schema.ts';
import { nowIso } from '../../db/schema.ts';
import { StoreError, type BlockStore } from '../../storage/block-store.ts';
import type { Regions } from '../common/regions.ts';
import { compileFilters, filtersUseTags, type Filter, type FilterFields } from '../common/filters.ts';
import type { Page, Paginator } from '../common/pagination.ts';
import { tagsForResource, type Tag, type TagService, type TagSpecification } from '../common/tags.ts';
import type { ClientTokens, RecordToken } from '../common/client-tokens.ts';
import {
  checkIds,
  idsWithMaxResults,
  ownedSnapshot,
  ownedVolume,
  visibleSnapshot,
  type SnapshotRow,
} from './lookups.ts';
import type { WorkQueue } from '../common/work-queue.ts';
import type { SnapshotArchive } from './snapshot-archive.ts';
import { cloneFromSnapshot } from './clone-snapshot.ts';
import { ArchiveError } from '../../objectstore/snapshot-store.ts';
import type { DryRunCheck } from '../common/dry-run.ts';
import { snapshotStates, transitionSnapshot } from './snapshot-states.ts';
import type { EbsEncryptionDefaults } from './encryption-defaults.ts';

/** A snapshot as the caller sees it: tags only when the caller owns it. */
export interface Snapshot {
  readonly row: SnapshotRow;
  readonly tags: ReadonlyMap<string, string>;
}

/** DescribeSnapshots parameters. */
export interface DescribeSnapshotsRequest {
  readonly snapshotIds: readonly string[];
  readonly ownerIds: readonly string[];
  readonly restorableByUserIds: readonly string[];
  readonly filters: readonly Filter[];
  readonly maxResults: number | undefined;
  readonly nextToken: string | undefined;
}

/** CopySnapshot parameters. */
export interface CopySnapshotRequest {
  readonly sourceRegion: string | undefined;
  readonly sourceSnapshotId: string | undefined;
  readonly description: string | undefined;
  readonly encrypted: boolean | undefined;
  readonly kmsKeyId: string | undefined;
  readonly tagSpecifications: readonly TagSpecification[];
  readonly clientToken: string | undefined;
  readonly dryRun: DryRunCheck;
}

/** What the snapshot service is built from. */
export interface SnapshotServiceDeps {
  readonly db: Kysely<Database>;
  readonly store: BlockStore;
  readonly logger: Logger;
  readonly regions: Regions;
  readonly paginator: Paginator;
  readonly tags: TagService;
  readonly work: WorkQueue;
  /** ClientToken idempotency for CopySnapshot. */
  readonly clientTokens: ClientTokens;
  /** `--snapshot-store`: when set, snapshots stay `pending` until archived (cloud/ebs/snapshot-archive.ts). */
  readonly archive?: SnapshotArchive;
  /** Whether an image still uses a snapshot (DeleteSnapshot's InvalidSnapshot.InUse); images answer. */
  readonly usage: SnapshotUsage;
  /** The account's encryption by default and default key (CopySnapshot). */
  readonly encryption: EbsEncryptionDefaults;
}

/** The port through which EBS asks who uses a snapshot; the image service implements it. */
export interface SnapshotUsage {
  /** The id of an image whose block device mappings name `snapshotId`, if any. */
  imageUsing(snapshotId: string): Promise<string | undefined>;
}

/** DescribeSnapshots MaxResults: 5..1000, larger values return 1000 (EC2 reference). */
export const describeSnapshotsBounds = { min: 5, max: 1000, clampAbove: true } as const;

const snapshotFields: FilterFields<SnapshotRow> = {
  description: (s) => s.description,
  encrypted: (s) => s.encrypted === 1,
  'kms-key-id': (s) => s.kms_key_id,
  'owner-alias': () => null,
  'owner-id': (s) => s.account_id,
  progress: (s) => `${s.progress}%`,
  'snapshot-id': (s) => s.id,
  'start-time': (s) => s.start_time,
  status: (s) => s.state,
  'storage-tier': () => 'standard',
  'volume-id': (s) => s.volume_id,
  'volume-size': (s) => s.volume_size_gib,
};

/** The temporary volume a CopySnapshot clones through, derived from the copy's id so recovery finds it. */
export function copyScratchVolumeId(snapshotId: string): string {
  return `vol-${snapshotId.slice('snap-'.length)}`;
}

/** The snapshot service: every method takes the caller's account id. */
export class SnapshotService {
  readonly #deps: SnapshotServiceDeps;

  constructor(deps: SnapshotServiceDeps) {
    this.#deps = deps;
    deps.tags.registerKind({
      prefix: 'snap',
      resourceType: 'snapshot',
      notFound: 'InvalidSnapshot.NotFound',
      access: async (accountId, id) => {
        try {
          return (await visibleSnapshot(deps.db, accountId, id)).access;
        } catch (error) {
          if (error instanceof CloudError) return 'missing';
          throw error;
        }
      },
    });
  }

  /** CreateSnapshot: fixes the point in time before returning; `pending` until the store has it durable. */
  async create(
    accountId: string,
    volumeId: string,
    description: string | undefined,
    specs: readonly TagSpecification[],
    dryRun: DryRunCheck,
  ): Promise<Snapshot> {
    const { db, store, work } = this.#deps;
    const volume = await ownedVolume(db, accountId, volumeId);
    checkDescription(description);
    const tags = tagsForResource(specs, 'snapshot');
    if (volume.state !== 'available' && volume.state !== 'in-use') {
      throw ec2Error('IncorrectState', `The volume '${volumeId}' is '${volume.state}'.`);
    }
    dryRun();
    const row = this.#newRow(
      accountId,
      volume.id,
      volume.size_gib,
      description ?? '',
      volume.encrypted,
      volume.kms_key_id,
    );
    await this.#insert(row, tags);
    // The store call is serialised with the volume's own transitions (resize, delete).
    await work
      .exclusive(volumeId, () => store.snapshot(volumeId, row.id))
      .catch(async (error: unknown) => {
        await transitionSnapshot(db, row.id, snapshotStates, 'error');
        throw error;
      });
    this.#enqueueComplete(row.id);
    return { row, tags: new Map(tags.map((t) => [t.key, t.value])) };
  }

  #newRow(
    accountId: string,
    volumeId: string,
    sizeGiB: number,
    description: string,
    encrypted: number,
    kmsKeyId: string | null,
  ): SnapshotRow {
    return {
      id: newId('snap'),
      account_id: accountId,
      volume_id: volumeId,
      volume_size_gib: sizeGiB,
      description,
      state: 'pending',
      progress: 0,
      encrypted,
      kms_key_id: kmsKeyId,
      source_snapshot_id: null,
      start_time: nowIso(),
      archived: 0,
      state_message: null,
      restored: 0,
    };
  }

  async #insert(
    row: SnapshotRow,
    tags: readonly { key: string; value: string }[],
    recordToken?: RecordToken,
  ): Promise<void> {
    await this.#deps.db.transaction().execute(async (trx) => {
      await trx.insertInto('snapshots').values(row).execute();
      await this.#deps.tags.putTags(trx, row.account_id, row.id, 'snapshot', tags);
      await recordToken?.(trx, row.id);
    });
  }

  #enqueueComplete(snapshotId: string): void {
    const { store, work } = this.#deps;
    work.enqueue(
      snapshotId,
      async () => {
        await store.flush();
        assert(store.device(snapshotId)?.kind === 'snapshot', `store lost snapshot ${snapshotId}`);
        await this.#finish(snapshotId);
      },
      (error) => this.#recordError(snapshotId, error),
    );
  }

  // Durable in the pool; with an archive, `completed` waits for the manifest (the archive marks it).
  async #finish(snapshotId: string): Promise<void> {
    const { db, archive } = this.#deps;
    if (archive !== undefined) return archive.archive(snapshotId);
    await transitionSnapshot(db, snapshotId, ['pending'], 'completed', { progress: 100 });
  }

  // A cancelled archive (daemon stopping) stays `pending` for recover(); an ArchiveError is the StateMessage.
  async #recordError(snapshotId: string, error: unknown): Promise<void> {
    if (error instanceof ArchiveError && error.code === 'ECANCELED') return;
    const message = error instanceof ArchiveError ? error.message : null;
    await transitionSnapshot(this.#deps.db, snapshotId, snapshotStates, 'error', { state_message: message });
  }

  /** Archives a `pending` snapshot already sealed in the pool (EBS direct CompleteSnapshot), in the background. */
  archiveInBackground(snapshotId: string): void {
    this.#enqueueComplete(snapshotId);
  }

  /** DescribeSnapshots: own snapshots and those shared with the caller (or public), as EC2 defaults. */
  async describe(accountId: string, request: DescribeSnapshotsRequest): Promise<Page<Snapshot>> {
    const { snapshotIds, filters, maxResults, nextToken } = request;
    checkIds(snapshotIds, 'snap');
    if (snapshotIds.length > 0 && maxResults !== undefined) throw idsWithMaxResults('snapshotSet');
    const scope = {
      action: 'DescribeSnapshots',
      accountId,
      ...request,
      maxResults: undefined,
      nextToken: undefined,
    };
    const page = this.#deps.paginator.open(scope, maxResults, nextToken, describeSnapshotsBounds);
    const visible = await this.#visibleRows(accountId, snapshotIds, page.after);
    if (snapshotIds.length > 0) {
      const found = new Set(visible.map((r) => r.id));
      const missing = snapshotIds.filter((id) => !found.has(id));
      if (missing.length > 0) throw new CloudError('InvalidSnapshot.NotFound', { id: missing.join(', ') });
    }
    const owners = new Set(request.ownerIds.map((o) => (o === 'self' ? accountId : o)));
    const restorers = request.restorableByUserIds.map((u) => (u === 'self' ? accountId : u));
    const grants =
      restorers.length > 0 ? await this.#grants(visible.map((r) => r.id)) : new Map<string, Set<string>>();
    const tags = filtersUseTags(filters)
      ? await this.#deps.tags.tagsOf(accountId)
      : new Map<string, Map<string, string>>();
    const keep = compileFilters(filters, snapshotFields, (s) => tags.get(s.id) ?? new Map());
    const matching = visible.filter(
      (row) =>
        (owners.size === 0 || owners.has(row.account_id)) &&
        restorers.every(
          (user) =>
            row.account_id === user || grants.get(row.id)?.has(user) || grants.get(row.id)?.has('all'),
        ) &&
        keep(row),
    );
    const paged = this.#deps.paginator.page(scope, page, matching, (s) => s.id);
    return { items: await this.#withTags(accountId, paged.items), nextToken: paged.nextToken };
  }

  async #visibleRows(
    accountId: string,
    ids: readonly string[],
    after: string | undefined,
  ): Promise<SnapshotRow[]> {
    let query = this.#deps.db
      .selectFrom('snapshots')
      .selectAll()
      .where('state', '!=', 'deleting')
      .where((eb) =>
        eb.or([
          eb('account_id', '=', accountId),
          eb(
            'id',
            'in',
            eb
              .selectFrom('snapshot_permissions')
              .select('snapshot_id')
              .where((p) => p.or([p('grantee', '=', accountId), p('grantee', '=', 'all')])),
          ),
        ]),
      )
      .orderBy('id');
    if (ids.length > 0) query = query.where('id', 'in', ids);
    if (after !== undefined) query = query.where('id', '>', after);
    return query.execute();
  }

  async #grants(ids: readonly string[]): Promise<Map<string, Set<string>>> {
    const grants = new Map<string, Set<string>>();
    if (ids.length === 0) return grants;
    const rows = await this.#deps.db.selectFrom('snapshot_permissions').selectAll().execute();
    const wanted = new Set(ids);
    for (const row of rows) {
      if (!wanted.has(row.snapshot_id)) continue;
      grants.set(row.snapshot_id, (grants.get(row.snapshot_id) ?? new Set()).add(row.grantee));
    }
    return grants;
  }

  async #withTags(accountId: string, rows: readonly SnapshotRow[]): Promise<Snapshot[]> {
    const owned = rows.filter((r) => r.account_id === accountId).map((r) => r.id);
    const tags = await this.#deps.tags.tagsOf(accountId, owned);
    return rows.map((row) => ({ row, tags: tags.get(row.id) ?? new Map() }));
  }

  /** DeleteSnapshot: owner only; refused while a registered image uses it. */
  async delete(accountId: string, snapshotId: string, dryRun: DryRunCheck): Promise<void> {
    const { db, work } = this.#deps;
    const row = await ownedSnapshot(db, accountId, snapshotId);
    await this.#checkNotInUse(snapshotId);
    if (row.state === 'pending')
      throw ec2Error('IncorrectState', `The snapshot '${snapshotId}' is still pending.`);
    dryRun();
    await transitionSnapshot(db, snapshotId, snapshotStates, 'deleting');
    await work.exclusive(snapshotId, () => this.#purge(snapshotId, row.archived === 1));
  }

  // Drops a `deleting` snapshot everywhere. Its archived copy stays while volumes made from it still read
  // through to it (lazy restore): the row stays `deleting` (hidden) until the archive reports the last
  // reader gone and `finishDeletion` runs.
  async #purge(snapshotId: string, archived: boolean): Promise<void> {
    const { db, store, tags, archive, logger } = this.#deps;
    const kept = archived && archive !== undefined && archive.hasReaders(snapshotId);
    if (archived && !kept) await archive?.remove(snapshotId);
    await store.deleteSnapshot(snapshotId).catch(ignoreMissing);
    if (kept) {
      logger.info(
        { snapshotId },
        'deleted; its archived copy stays until the volumes reading it are hydrated',
      );
      return;
    }
    await db.transaction().execute(async (trx) => {
      await tags.dropAll(trx, snapshotId);
      await trx.deleteFrom('snapshot_permissions').where('snapshot_id', '=', snapshotId).execute();
      await trx.deleteFrom('snapshots').where('id', '=', snapshotId).execute();
    });
  }

  /** Completes the deletion of a snapshot whose archived copy was kept for its readers (see #purge). */
  async finishDeletion(snapshotId: string): Promise<void> {
    const { db, work } = this.#deps;
    await work.exclusive(snapshotId, async () => {
      const row = await db
        .selectFrom('snapshots')
        .select(['state', 'archived'])
        .where('id', '=', snapshotId)
        .executeTakeFirst();
      if (row?.state === 'deleting') await this.#purge(snapshotId, row.archived === 1);
    });
  }

  async #checkNotInUse(snapshotId: string): Promise<void> {
    const user = await this.imageUsing(snapshotId);
    if (user !== undefined) throw new CloudError('InvalidSnapshot.InUse', { id: snapshotId, user });
  }

  /** The image using `snapshotId`, if any, as the SnapshotUsage port answers. */
  imageUsing(snapshotId: string): Promise<string | undefined> {
    return this.#deps.usage.imageUsing(snapshotId);
  }

  /** CopySnapshot within this region, in O(1): clone the source into a scratch volume and snapshot that. */
  async copy(accountId: string, request: CopySnapshotRequest): Promise<Snapshot> {
    const { db } = this.#deps;
    const sourceId = request.sourceSnapshotId;
    if (sourceId === undefined || sourceId === '')
      throw new CloudError('MissingParameter', { name: 'SourceSnapshotId' });
    if (request.sourceRegion === undefined || request.sourceRegion === '')
      throw new CloudError('MissingParameter', { name: 'SourceRegion' });
    if (request.sourceRegion !== this.#deps.regions.region) {
      throw ec2Error(
        'InvalidParameterValue',
        `Value (${request.sourceRegion}) for parameter sourceRegion is invalid. Strata serves only ${this.#deps.regions.region}.`,
      );
    }
    const { row: source } = await visibleSnapshot(db, accountId, sourceId);
    if (source.state !== 'completed')
      throw ec2Error('IncorrectState', `Snapshot is in invalid state - ${source.state}`);
    checkDescription(request.description);
    if (request.kmsKeyId !== undefined && request.encrypted !== true)
      throw ec2Error(
        'InvalidParameterDependency',
        'The parameter KmsKeyId requires the parameter Encrypted to be set.',
      );
    const tags = tagsForResource(request.tagSpecifications, 'snapshot');
    request.dryRun();
    // An empty ClientToken counts as none; `dryRun: false` keeps the digests of tokens recorded before.
    const scope = { accountId, action: 'CopySnapshot', params: { ...request, dryRun: false } };
    return this.#deps.clientTokens.once(
      { ...scope, token: request.clientToken === '' ? undefined : request.clientToken },
      {
        create: (record) => this.#insertCopy(accountId, request, source, tags, record),
        replay: (snapshotId) => this.#replayCopy(accountId, snapshotId),
      },
    );
  }

  async #insertCopy(
    accountId: string,
    request: CopySnapshotRequest,
    source: SnapshotRow,
    tags: readonly Tag[],
    recordToken: RecordToken | undefined,
  ): Promise<Snapshot> {
    const asked = request.encrypted === true || source.encrypted === 1;
    const key = request.kmsKeyId ?? source.kms_key_id ?? undefined;
    const sealed = await this.#deps.encryption.resolve(accountId, asked, key);
    const row = {
      ...this.#newRow(
        accountId,
        source.volume_id,
        source.volume_size_gib,
        request.description ?? '',
        sealed.encrypted ? 1 : 0,
        sealed.kmsKeyId,
      ),
      source_snapshot_id: source.id,
    };
    await this.#insert(row, tags, recordToken);
    this.#enqueueCopy(row.id, source.id);
    return { row, tags: new Map(tags.map((t) => [t.key, t.value])) };
  }

  async #replayCopy(accountId: string, snapshotId: string): Promise<Snapshot> {
    const rows = await this.#visibleRows(accountId, [snapshotId], undefined);
    const [copy] = await this.#withTags(accountId, rows);
    if (copy === undefined) {
      throw ec2Error(
        'IdempotentParameterMismatch',
        'The client token you have provided is associated with a resource that is already deleted.',
      );
    }
    return copy;
  }

  #enqueueCopy(copyId: string, sourceId: string): void {
    const { store, work } = this.#deps;
    const scratch = copyScratchVolumeId(copyId);
    work.enqueue(
      copyId,
      async () => {
        if (store.device(copyId) === undefined) {
          if (store.device(scratch) === undefined) {
            await cloneFromSnapshot(store, this.#deps.archive?.ensureInPool, sourceId, scratch);
          }
          await store.snapshot(scratch, copyId);
        }
        await store.deleteVolume(scratch).catch(ignoreMissing);
        await this.#finish(copyId);
      },
      async (error) => {
        await store.deleteVolume(scratch).catch(ignoreMissing);
        await this.#recordError(copyId, error);
      },
    );
  }

  /** Completes or fails transitions a crash interrupted (see the file comment); called once at start. */
  async recover(): Promise<void> {
    const { db, store, logger } = this.#deps;
    const stuck = await db
      .selectFrom('snapshots')
      .selectAll()
      .where('state', 'in', ['pending', 'deleting'])
      .execute();
    for (const row of stuck) {
      logger.info({ snapshotId: row.id, state: row.state }, 'completing interrupted snapshot transition');
      if (row.state === 'deleting') {
        await this.#purge(row.id, row.archived === 1);
      } else if (row.source_snapshot_id !== null && store.device(row.source_snapshot_id) !== undefined) {
        this.#enqueueCopy(row.id, row.source_snapshot_id);
      } else if (store.device(row.id) !== undefined) {
        this.#enqueueComplete(row.id);
      } else {
        await transitionSnapshot(db, row.id, snapshotStates, 'error');
      }
    }
  }
}

function checkDescription(description: string | undefined): void {
  if (description !== undefined && description.length > limits.snapshotDescriptionCharsMax) {
    throw ec2Error(
      'InvalidParameterValue',
      `Value for parameter description is invalid. Length ${description.length} exceeds ${limits.snapshotDescriptionCharsMax} characters.`,
    );
  }
}

function ignoreMissing(error: unknown): void {
  if (!(error instanceof StoreError && error.code === 'ENOENT')) throw error;
}
