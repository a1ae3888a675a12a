// The EBS direct API's domain service (docs/ebs-direct.md): StartSnapshot/PutSnapshotBlock/CompleteSnapshot
// (uploads.ts) and ListSnapshotBlocks/ListChangedBlocks/GetSnapshotBlock (reads.ts),
// on the same snapshots (table and block store devices) as EC2's CreateSnapshot and DescribeSnapshots.
//
// Usage (the daemon does this):
//   const ebsDirect = createEbsDirect({ db, store, tags, logger, dataDir });
//   await ebsDirect.recover();            // after cloud.ebs.recover()
//   await ebsDirect.start(accountId, { volumeSizeGiB: 1, … }) …
//   ebsDirect.close();
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { limits } from '../../base/limits.ts';
import type { Logger } from '../../base/log.ts';
import type { Database } from '../../db/schema.ts';
import type { BlockStore } from '../../storage/block-store.ts';
import type { TagService } from '../common/tags.ts';
import type { EnsureSnapshotInPool } from '../ebs/clone-snapshot.ts';
import { EbsTokens } from './tokens.ts';
import { EbsUploads } from './uploads.ts';
import type { CompleteRequest, PutBlockRequest, StartedSnapshot } from './uploads.ts';
import type { StartSnapshotRequest } from './requests.ts';
import {
  getSnapshotBlock,
  listChangedBlocks,
  listSnapshotBlocks,
  type ChangedBlock,
  type ListedBlock,
  type ListingMeta,
  type ListPage,
  type ReaderDeps,
} from './reads.ts';

/** AWS's BlockToken lifetime: 7 days. */
export const blockTokenTtlSecondsDefault = limits.ebsBlockTokenTtlSeconds;

/** What the service is built from. */
export interface EbsDirectOptions {
  readonly db: Kysely<Database>;
  readonly store: BlockStore;
  readonly tags: TagService;
  readonly logger: Logger;
  /** The token key lives at `<dataDir>/ebs-token.key`. */
  readonly dataDir: string;
  /** BlockToken lifetime; default STRATA_EBS_BLOCK_TOKEN_TTL_SECONDS (read at each listing), else 7 days. */
  readonly blockTokenTtlSeconds?: number;
  /** The clock, in ms (tests). */
  readonly now?: () => number;
  /** With `--snapshot-store`: a sealed snapshot stays `pending` and this archives it (cloud/ebs/snapshot-archive.ts). */
  readonly archiveSealed?: (snapshotId: string) => void;
  /** With `--snapshot-store`: brings back an archived snapshot whose pool copy is gone, before it is read. */
  readonly ensureSnapshotInPool?: EnsureSnapshotInPool;
}

/** The EBS direct API, one method per action; every method takes the caller's account id. */
export interface EbsDirect {
  start(accountId: string, request: StartSnapshotRequest): Promise<StartedSnapshot>;
  /** Returns the block's checksum (echoed in x-amz-Checksum). */
  putBlock(accountId: string, snapshotId: string, request: PutBlockRequest): Promise<string>;
  /** Returns the snapshot status. */
  complete(accountId: string, snapshotId: string, request: CompleteRequest): Promise<string>;
  listBlocks(
    accountId: string,
    snapshotId: string,
    page: ListPage,
  ): Promise<ListingMeta & { blocks: ListedBlock[] }>;
  listChangedBlocks(
    accountId: string,
    secondSnapshotId: string,
    firstSnapshotId: string | undefined,
    page: ListPage,
  ): Promise<ListingMeta & { changedBlocks: ChangedBlock[] }>;
  getBlock(
    accountId: string,
    snapshotId: string,
    blockIndex: number,
    blockToken: string,
  ): Promise<{ data: Buffer; checksum: string }>;
  /** Resumes pending uploads; call once after the EBS control plane recovered. */
  recover(): Promise<void>;
  /** Stops timers. */
  close(): void;
}

/** Builds the service. */
export function createEbsDirect(options: EbsDirectOptions): EbsDirect {
  const now = options.now ?? Date.now;
  const tokens = EbsTokens.openOrCreate(join(options.dataDir, 'ebs-token.key'));
  const uploads = new EbsUploads({ ...options, now });
  const readers: ReaderDeps = {
    db: options.db,
    store: options.store,
    ...(options.ensureSnapshotInPool !== undefined
      ? { ensureSnapshotInPool: options.ensureSnapshotInPool }
      : {}),
    tokens,
    blockTokenTtlSeconds: () => options.blockTokenTtlSeconds ?? ttlFromEnvironment(),
    now,
  };
  return {
    start: (accountId, request) => uploads.start(accountId, request),
    putBlock: (accountId, snapshotId, request) => uploads.put(accountId, snapshotId, request),
    complete: (accountId, snapshotId, request) => uploads.complete(accountId, snapshotId, request),
    listBlocks: (accountId, snapshotId, page) => listSnapshotBlocks(readers, accountId, snapshotId, page),
    listChangedBlocks: (accountId, second, first, page) =>
      listChangedBlocks(readers, accountId, second, first, page),
    getBlock: (accountId, snapshotId, index, token) =>
      getSnapshotBlock(readers, accountId, snapshotId, index, token),
    recover: () => uploads.recover(),
    close: () => uploads.close(),
  };
}

function ttlFromEnvironment(): number {
  const value = Number(process.env.STRATA_EBS_BLOCK_TOKEN_TTL_SECONDS);
  return Number.isSafeInteger(value) && value > 0 ? value : blockTokenTtlSecondsDefault;
}
