// The EBS control plane as one unit: volumes, their modifications, snapshots, snapshot sharing and tags,
// sharing one background work queue and one NextToken paginator. The daemon builds it once, calls
// `recover()` before serving, and `close()` before the block store closes.
import type { Kysely } from 'kysely';
import type { Logger } from '../../base/log.ts';
import type { Database } from '../../db/schema.ts';
import type { BlockStore } from '../../storage/block-store.ts';
import type { Regions } from '../common/regions.ts';
import { Paginator } from '../common/pagination.ts';
import { ClientTokens } from '../common/client-tokens.ts';
import { TagService } from '../common/tags.ts';
import { VolumeService, type AttachmentLookup } from './volumes.ts';
import { VolumeModifications } from './volume-modifications.ts';
import { SnapshotService, type SnapshotUsage } from './snapshots.ts';
import { SnapshotPermissions } from './snapshot-permissions.ts';
import { WorkQueue } from '../common/work-queue.ts';
import type { SnapshotArchive } from './snapshot-archive.ts';
import { EbsEncryptionDefaults } from './encryption-defaults.ts';
import { FastSnapshotRestores } from './fast-snapshot-restores.ts';

/** What the EBS services are built from. */
export interface EbsOptions {
  readonly db: Kysely<Database>;
  readonly store: BlockStore;
  readonly logger: Logger;
  readonly regions: Regions;
  /** How long ModifyVolume stays `optimizing`, in ms (default 1000; tests use 0). */
  readonly optimizingMs?: number;
  /** `--snapshot-store`: archive snapshots and restore them from there (cloud/ebs/snapshot-archive.ts). */
  readonly archive?: SnapshotArchive;
  /** Port: volumes' attachments, answered by compute (instances/attachments.ts, `volumeAttachments`). */
  readonly attachments: AttachmentLookup;
  /** Port: which image uses a snapshot, answered by images (images/images.ts, `snapshotUsage`). */
  readonly snapshotUsage: SnapshotUsage;
}

/** The EBS domain services. */
export interface Ebs {
  readonly volumes: VolumeService;
  readonly modifications: VolumeModifications;
  readonly snapshots: SnapshotService;
  readonly permissions: SnapshotPermissions;
  /** Tags for every resource kind; images and instances register their prefixes here too. */
  readonly tags: TagService;
  /** Shared by every Describe action, so tokens are sealed with one secret. */
  readonly paginator: Paginator;
  /** ClientToken idempotency, shared by every create action (one bound for all). */
  readonly clientTokens: ClientTokens;
  /** The snapshot archive, when a `--snapshot-store` is configured. */
  readonly archive: SnapshotArchive | undefined;
  /** Accounts' EBS encryption defaults (no data is encrypted at rest). */
  readonly encryption: EbsEncryptionDefaults;
  /** Fast snapshot restore per snapshot and zone. */
  readonly fastRestores: FastSnapshotRestores;
  /** Completes transitions a crash interrupted; call once before serving. */
  recover(): Promise<void>;
  /** Resolves when no background transition is queued or running. */
  idle(): Promise<void>;
  /** Waits for background transitions; call before closing the store. */
  close(): Promise<void>;
}

/** Builds the EBS services. */
export function createEbs(options: EbsOptions): Ebs {
  const { db, store, logger, regions } = options;
  const work = new WorkQueue(logger);
  const paginator = new Paginator();
  const clientTokens = new ClientTokens(db);
  const tags = new TagService(db, paginator);
  const { archive } = options;
  const restore =
    archive !== undefined
      ? {
          ensureSnapshotInPool: archive.ensureInPool,
          volumeReady: (id: string) => archive.volumeReady(id),
        }
      : {};
  const encryption = new EbsEncryptionDefaults(db, regions.region);
  const shared = { db, store, logger, regions, paginator, tags, work, clientTokens, encryption };
  const volumes = new VolumeService({ ...shared, attachments: options.attachments, ...restore });
  const snapshots = new SnapshotService({
    ...shared,
    usage: options.snapshotUsage,
    ...(archive !== undefined ? { archive } : {}),
  });
  // A deleted snapshot's archived copy outlives it while volumes read through to it (snapshots.ts, #purge).
  archive?.onReleased((snapshotId) => {
    snapshots.finishDeletion(snapshotId).catch((error: unknown) => {
      logger.warn({ err: error, snapshotId }, 'deferred snapshot deletion failed; the next start retries it');
    });
  });
  const optimizingMs = options.optimizingMs ?? 1000;
  const modifications = new VolumeModifications({ db, store, logger, paginator, work, optimizingMs });
  const permissions = new SnapshotPermissions(db);
  return {
    volumes,
    modifications,
    snapshots,
    permissions,
    tags,
    paginator,
    clientTokens,
    archive,
    encryption,
    fastRestores: new FastSnapshotRestores({ db, regions, paginator }),
    async recover() {
      await volumes.recover();
      await snapshots.recover();
      await modifications.recover();
    },
    idle: () => work.idle(),
    close: () => {
      // Archives in flight stop at their next store call and resume on the next start.
      archive?.cancel();
      return work.idle();
    },
  };
}
