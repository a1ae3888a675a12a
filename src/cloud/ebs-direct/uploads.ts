// Writing snapshots through the EBS direct API: StartSnapshot, PutSnapshotBlock, CompleteSnapshot.
//
// A StartSnapshot snapshot is built in a hidden block store volume (no `volumes` row; cloned from the
// parent snapshot for an incremental upload) that receives the blocks. CompleteSnapshot verifies the block
// count and the optional LINEAR aggregate checksum, snapshots the hidden volume under the snapshot's id and
// deletes the volume. The `snapshots` row is the one EC2 DescribeSnapshots shows: pending, then completed
// (or error when the Timeout passes first).
//
// Crash safety (rows first, then store, then rows), completed by `recover()`:
// - start: rows `pending` → store volume; no volume at recovery → `error`.
// - complete: store snapshot → rows `completed` → volume deleted; a snapshot present at recovery completes.
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AssertionError } from '../../base/assert.ts';
import { newId } from '../../base/ids.ts';
import { limits, units } from '../../base/limits.ts';
import type { Logger } from '../../base/log.ts';
import type { Database } from '../../db/schema.ts';
import { nowIso } from '../../db/schema.ts';
import { StoreError } from '../../storage/block-store.ts';
import type { Tag, TagService } from '../common/tags.ts';
import { cloneFromSnapshot } from '../ebs/clone-snapshot.ts';
import { unknownVolumeId } from '../ebs/lookups.ts';
import { checkSnapshotId, readableSnapshot, type SnapshotAccess } from './access.ts';
import { snapshotNotFound, tokenConflict, validation } from './exceptions.ts';
import { checkStartRequest, type CheckedStart, type StartSnapshotRequest } from './requests.ts';
import { recordSnapshotProgress, snapshotStates, transitionSnapshot } from '../ebs/snapshot-states.ts';

const blockBytes = limits.ebsBlockBytes;

/** What StartSnapshot answers. */
export interface StartedSnapshot {
  readonly snapshotId: string;
  readonly ownerId: string;
  readonly status: string;
  readonly startTime: Date;
  readonly volumeSizeGiB: number;
  readonly blockSizeBytes: number;
  readonly description: string;
  readonly parentSnapshotId: string | undefined;
  readonly tags: readonly Tag[];
}

/** One PutSnapshotBlock. */
export interface PutBlockRequest {
  readonly blockIndex: number;
  readonly data: Buffer;
  readonly dataLength: number;
  readonly checksum: string;
  readonly checksumAlgorithm: string;
  readonly progress: number | undefined;
}

/** One CompleteSnapshot. */
export interface CompleteRequest {
  readonly changedBlocksCount: number;
  readonly checksum: string | undefined;
  readonly checksumAlgorithm: string | undefined;
  readonly checksumAggregationMethod: string | undefined;
}

/** What the uploads need. */
export interface UploadDeps extends SnapshotAccess {
  readonly db: Kysely<Database>;
  readonly tags: TagService;
  readonly logger: Logger;
  readonly now: () => number;
  /** With `--snapshot-store`: a sealed snapshot stays `pending` and this archives it (cloud/ebs/snapshot-archive.ts). */
  readonly archiveSealed?: (snapshotId: string) => void;
}

// An upload being written: kept in memory so PutSnapshotBlock costs no lookup beyond its own upsert.
interface Upload {
  readonly snapshotId: string;
  readonly accountId: string;
  readonly volumeId: string;
  readonly sizeBytes: number;
  readonly deadlineMs: number;
  /** Puts in flight; CompleteSnapshot waits for them. */
  readonly inFlight: Set<Promise<unknown>>;
  completing: boolean;
  timer: NodeJS.Timeout | undefined;
  /** Last x-amz-Progress recorded, so the row is updated only when it changes (not once per block). */
  progress: number;
}

/** The write half of the EBS direct API. */
export class EbsUploads {
  readonly #deps: UploadDeps;
  readonly #uploads = new Map<string, Upload>();

  constructor(deps: UploadDeps) {
    this.#deps = deps;
  }

  /** StartSnapshot: a pending snapshot, optionally continuing `parentSnapshotId`. Idempotent per ClientToken. */
  async start(accountId: string, request: StartSnapshotRequest): Promise<StartedSnapshot> {
    const { db } = this.#deps;
    const checked = checkStartRequest(request);
    const digest = createHash('sha256').update(JSON.stringify(checked)).digest('hex');
    if (checked.clientToken !== undefined) {
      const earlier = await db
        .selectFrom('ebs_direct_uploads')
        .select(['snapshot_id', 'request_digest'])
        .where('account_id', '=', accountId)
        .where('client_token', '=', checked.clientToken)
        .executeTakeFirst();
      if (earlier !== undefined) {
        if (earlier.request_digest !== digest) throw tokenConflict();
        return this.#describe(accountId, earlier.snapshot_id);
      }
    }
    let parentSizeGiB = 0;
    if (checked.parentSnapshotId !== undefined) {
      const parent = await readableSnapshot(this.#deps, accountId, checked.parentSnapshotId);
      parentSizeGiB = parent.volume_size_gib;
    }
    if (checked.volumeSizeGiB < parentSizeGiB) {
      throw validation(
        'INVALID_VOLUME_SIZE',
        `VolumeSize ${checked.volumeSizeGiB} is smaller than the parent snapshot's ${parentSizeGiB} GiB.`,
      );
    }
    return this.#create(accountId, checked, digest);
  }

  async #create(accountId: string, request: CheckedStart, digest: string): Promise<StartedSnapshot> {
    const { db, store, tags, now } = this.#deps;
    const snapshotId = newId('snap');
    const volumeId = newId('vol');
    const startTime = nowIso();
    const deadlineMs = now() + request.timeoutMinutes * 60_000;
    await db.transaction().execute(async (trx) => {
      await trx
        .insertInto('snapshots')
        .values({
          id: snapshotId,
          account_id: accountId,
          volume_id: unknownVolumeId,
          volume_size_gib: request.volumeSizeGiB,
          description: request.description,
          state: 'pending',
          progress: 0,
          encrypted: 0,
          kms_key_id: null,
          source_snapshot_id: null,
          start_time: startTime,
        })
        .execute();
      await tags.putTags(trx, accountId, snapshotId, 'snapshot', request.tags);
      await trx
        .insertInto('ebs_direct_uploads')
        .values({
          snapshot_id: snapshotId,
          account_id: accountId,
          volume_id: volumeId,
          parent_snapshot_id: request.parentSnapshotId ?? null,
          state: 'pending',
          deadline: new Date(deadlineMs).toISOString(),
          client_token: request.clientToken ?? null,
          request_digest: digest,
          created_at: startTime,
        })
        .execute();
    });
    const sizeBytes = request.volumeSizeGiB * units.GiB;
    try {
      if (request.parentSnapshotId === undefined) await store.createVolume(volumeId, sizeBytes);
      else {
        const ensure = this.#deps.ensureSnapshotInPool;
        await cloneFromSnapshot(store, ensure, request.parentSnapshotId, volumeId, sizeBytes);
      }
    } catch (error) {
      await this.#markError(snapshotId);
      throw error;
    }
    this.#track({ snapshotId, accountId, volumeId, sizeBytes, deadlineMs });
    return this.#describe(accountId, snapshotId);
  }

  async #describe(accountId: string, snapshotId: string): Promise<StartedSnapshot> {
    const { db } = this.#deps;
    const row = await db.selectFrom('snapshots').selectAll().where('id', '=', snapshotId).executeTakeFirst();
    if (row === undefined) throw snapshotNotFound(snapshotId);
    const upload = await db
      .selectFrom('ebs_direct_uploads')
      .select('parent_snapshot_id')
      .where('snapshot_id', '=', snapshotId)
      .executeTakeFirst();
    const tags = await db
      .selectFrom('tags')
      .select(['key', 'value'])
      .where('resource_id', '=', snapshotId)
      .where('account_id', '=', accountId)
      .orderBy('key')
      .execute();
    return {
      snapshotId,
      ownerId: row.account_id,
      status: row.state,
      startTime: new Date(row.start_time),
      volumeSizeGiB: row.volume_size_gib,
      blockSizeBytes: blockBytes,
      description: row.description,
      parentSnapshotId: upload?.parent_snapshot_id ?? undefined,
      tags,
    };
  }

  #track(fields: Pick<Upload, 'snapshotId' | 'accountId' | 'volumeId' | 'sizeBytes' | 'deadlineMs'>): void {
    const upload: Upload = {
      ...fields,
      inFlight: new Set(),
      completing: false,
      timer: undefined,
      progress: 0,
    };
    const delayMs = Math.max(0, fields.deadlineMs - this.#deps.now());
    // setTimeout holds at most ~24.8 days; Timeout is at most 72 hours.
    upload.timer = setTimeout(() => void this.#expire(upload), Math.min(delayMs, 2 ** 31 - 1));
    upload.timer.unref();
    this.#uploads.set(fields.snapshotId, upload);
  }

  /** PutSnapshotBlock: verifies length, index and checksum, then writes the block into the hidden volume. */
  async put(accountId: string, snapshotId: string, request: PutBlockRequest): Promise<string> {
    const upload = await this.#writable(accountId, snapshotId);
    checkBlock(upload, request);
    const write = this.#write(upload, request);
    upload.inFlight.add(write);
    try {
      await write;
    } finally {
      upload.inFlight.delete(write);
    }
    return request.checksum;
  }

  async #write(upload: Upload, request: PutBlockRequest): Promise<void> {
    const { db, store } = this.#deps;
    await store.write(upload.volumeId, request.blockIndex * blockBytes, request.data);
    await db
      .insertInto('ebs_direct_blocks')
      .values({ snapshot_id: upload.snapshotId, block_index: request.blockIndex, checksum: request.checksum })
      .onConflict((oc) =>
        oc.columns(['snapshot_id', 'block_index']).doUpdateSet({ checksum: request.checksum }),
      )
      .execute();
    if (request.progress !== undefined && request.progress !== upload.progress) {
      upload.progress = request.progress;
      await recordSnapshotProgress(db, upload.snapshotId, request.progress);
    }
  }

  // The caller's pending upload, or the error AWS gives for a missing, foreign, finished or timed-out one.
  async #writable(accountId: string, snapshotId: string): Promise<Upload> {
    checkSnapshotId(snapshotId);
    const upload = this.#uploads.get(snapshotId);
    if (upload !== undefined && upload.accountId === accountId) {
      if (this.#deps.now() >= upload.deadlineMs) {
        await this.#expire(upload);
      } else if (!upload.completing) {
        return upload;
      }
    }
    const row = await this.#deps.db
      .selectFrom('snapshots')
      .select(['account_id', 'state'])
      .where('id', '=', snapshotId)
      .executeTakeFirst();
    if (row === undefined || row.account_id !== accountId || row.state === 'deleting') {
      throw snapshotNotFound(snapshotId);
    }
    if (upload?.completing === true) {
      throw validation('INVALID_SNAPSHOT_ID', `The snapshot '${snapshotId}' is being completed.`);
    }
    if (row.state === 'error') {
      throw validation(
        'WRITE_REQUEST_TIMEOUT',
        `The snapshot '${snapshotId}' timed out before it was completed.`,
      );
    }
    throw validation(
      'INVALID_SNAPSHOT_ID',
      `The snapshot '${snapshotId}' is ${row.state}: blocks can be written only to a pending snapshot made by StartSnapshot.`,
    );
  }

  /** CompleteSnapshot: checks ChangedBlocksCount and the optional aggregate checksum, then seals the snapshot. */
  async complete(accountId: string, snapshotId: string, request: CompleteRequest): Promise<string> {
    checkSnapshotId(snapshotId);
    const upload = this.#uploads.get(snapshotId);
    if (upload === undefined || upload.accountId !== accountId)
      return this.#finishedStatus(accountId, snapshotId);
    const live = await this.#writable(accountId, snapshotId);
    live.completing = true;
    try {
      await Promise.allSettled([...live.inFlight]);
      await this.#verify(live, request);
      await this.#seal(live);
      return this.#deps.archiveSealed !== undefined ? 'pending' : 'completed';
    } finally {
      live.completing = false;
    }
  }

  // CompleteSnapshot of a snapshot that is not being uploaded: idempotent for a completed upload.
  async #finishedStatus(accountId: string, snapshotId: string): Promise<string> {
    const row = await this.#deps.db
      .selectFrom('ebs_direct_uploads')
      .select(['state'])
      .where('snapshot_id', '=', snapshotId)
      .where('account_id', '=', accountId)
      .executeTakeFirst();
    if (row?.state === 'completed') return 'completed';
    await this.#writable(accountId, snapshotId);
    // #writable returns only tracked uploads, and this one is not: reaching here is a bug.
    throw new AssertionError(`writable upload ${snapshotId} was not tracked`);
  }

  async #verify(upload: Upload, request: CompleteRequest): Promise<void> {
    const rows = await this.#deps.db
      .selectFrom('ebs_direct_blocks')
      .select(['block_index', 'checksum'])
      .where('snapshot_id', '=', upload.snapshotId)
      .orderBy('block_index')
      .execute();
    if (request.changedBlocksCount !== rows.length) {
      throw validation(
        'INVALID_PARAMETER_VALUE',
        `ChangedBlocksCount ${request.changedBlocksCount} does not match the ${rows.length} blocks written to ${upload.snapshotId}.`,
      );
    }
    if (request.checksum === undefined) return;
    if ((request.checksumAlgorithm ?? 'SHA256') !== 'SHA256') {
      throw validation(
        'INVALID_PARAMETER_VALUE',
        `ChecksumAlgorithm must be SHA256: got ${request.checksumAlgorithm}.`,
      );
    }
    if ((request.checksumAggregationMethod ?? 'LINEAR') !== 'LINEAR') {
      throw validation(
        'INVALID_PARAMETER_VALUE',
        `ChecksumAggregationMethod must be LINEAR: got ${request.checksumAggregationMethod}.`,
      );
    }
    const checksums = rows.map((r) => r.checksum);
    if (!linearChecksums(checksums).includes(request.checksum)) {
      throw validation(
        'INVALID_PARAMETER_VALUE',
        `The aggregate checksum ${request.checksum} does not match the checksums of the ${rows.length} blocks written.`,
      );
    }
  }

  async #seal(upload: Upload): Promise<void> {
    const { db, store } = this.#deps;
    if (store.device(upload.snapshotId) === undefined)
      await store.snapshot(upload.volumeId, upload.snapshotId);
    await db.transaction().execute(async (trx) => {
      // With an archive the snapshot stays `pending` (progress restarts) until archived; else it is done.
      if (this.#deps.archiveSealed !== undefined)
        await recordSnapshotProgress(trx, upload.snapshotId, 0, snapshotStates);
      else await transitionSnapshot(trx, upload.snapshotId, snapshotStates, 'completed', { progress: 100 });
      await trx
        .updateTable('ebs_direct_uploads')
        .set({ state: 'completed' })
        .where('snapshot_id', '=', upload.snapshotId)
        .execute();
      await trx.deleteFrom('ebs_direct_blocks').where('snapshot_id', '=', upload.snapshotId).execute();
    });
    this.#forget(upload);
    await store.deleteVolume(upload.volumeId).catch(ignoreMissing);
    this.#deps.archiveSealed?.(upload.snapshotId);
  }

  async #expire(upload: Upload): Promise<void> {
    if (this.#uploads.get(upload.snapshotId) !== upload || upload.completing) return;
    this.#deps.logger.info(
      { snapshotId: upload.snapshotId },
      'EBS direct snapshot timed out before completion',
    );
    this.#forget(upload);
    await this.#markError(upload.snapshotId);
    await this.#deps.store.deleteVolume(upload.volumeId).catch(ignoreMissing);
  }

  #forget(upload: Upload): void {
    clearTimeout(upload.timer);
    this.#uploads.delete(upload.snapshotId);
  }

  async #markError(snapshotId: string): Promise<void> {
    await this.#deps.db.transaction().execute(async (trx) => {
      await transitionSnapshot(trx, snapshotId, snapshotStates, 'error');
      await trx
        .updateTable('ebs_direct_uploads')
        .set({ state: 'error' })
        .where('snapshot_id', '=', snapshotId)
        .execute();
      await trx.deleteFrom('ebs_direct_blocks').where('snapshot_id', '=', snapshotId).execute();
    });
  }

  /** Resumes pending uploads after a restart (after the snapshot service's own recovery, which fails them). */
  async recover(): Promise<void> {
    const { db, store } = this.#deps;
    const pending = await db
      .selectFrom('ebs_direct_uploads')
      .selectAll()
      .where('state', '=', 'pending')
      .execute();
    for (const row of pending) {
      const fields = {
        snapshotId: row.snapshot_id,
        accountId: row.account_id,
        volumeId: row.volume_id,
        sizeBytes: store.device(row.volume_id)?.sizeBytes ?? 0,
        deadlineMs: Date.parse(row.deadline),
      };
      if (store.device(row.snapshot_id) !== undefined) {
        await this.#seal({
          ...fields,
          inFlight: new Set(),
          completing: false,
          timer: undefined,
          progress: 0,
        });
      } else if (fields.sizeBytes === 0) {
        await this.#markError(row.snapshot_id);
      } else {
        await transitionSnapshot(db, row.snapshot_id, snapshotStates, 'pending');
        this.#track(fields);
      }
    }
  }

  /** Stops the timeout timers (uploads stay pending in the database and resume on the next start). */
  close(): void {
    for (const upload of this.#uploads.values()) clearTimeout(upload.timer);
    this.#uploads.clear();
  }
}

function checkBlock(upload: Upload, request: PutBlockRequest): void {
  const blocks = upload.sizeBytes / blockBytes;
  if (!Number.isSafeInteger(request.blockIndex) || request.blockIndex < 0 || request.blockIndex >= blocks) {
    throw validation(
      'INVALID_BLOCK',
      `Block index ${request.blockIndex} is out of range: the snapshot has blocks 0 to ${blocks - 1}.`,
    );
  }
  if (request.dataLength !== blockBytes) {
    throw validation(
      'INVALID_PARAMETER_VALUE',
      `DataLength must be the block size, ${blockBytes}: got ${request.dataLength}.`,
    );
  }
  if (request.data.length !== blockBytes) {
    throw validation(
      'INVALID_PARAMETER_VALUE',
      `The body must be one whole block of ${blockBytes} bytes, as DataLength says: it has ${request.data.length} bytes.`,
    );
  }
  if (request.checksumAlgorithm !== 'SHA256') {
    throw validation(
      'INVALID_PARAMETER_VALUE',
      `ChecksumAlgorithm must be SHA256: got ${request.checksumAlgorithm}.`,
    );
  }
  const actual = createHash('sha256').update(request.data).digest('base64');
  if (actual !== request.checksum) {
    throw validation(
      'INVALID_PARAMETER_VALUE',
      `The value of the checksum ${request.checksum} does not match the data (SHA256 ${actual}).`,
    );
  }
  if (
    request.progress !== undefined &&
    !(Number.isInteger(request.progress) && request.progress >= 0 && request.progress <= 100)
  ) {
    throw validation(
      'INVALID_PARAMETER_VALUE',
      `Progress must be an integer from 0 to 100: got ${request.progress}.`,
    );
  }
}

/**
 * The LINEAR aggregate checksum of per-block base64 SHA-256 checksums in index order. The reference says
 * "concatenate them ... and checksum the string"; tools (coldsnap) hash the concatenated raw 32-byte
 * digests. Both readings are returned (base64), and either is accepted.
 */
export function linearChecksums(checksums: readonly string[]): string[] {
  const raw = createHash('sha256');
  const text = createHash('sha256');
  for (const checksum of checksums) {
    raw.update(Buffer.from(checksum, 'base64'));
    text.update(checksum, 'utf8');
  }
  return [raw.digest('base64'), text.digest('base64')];
}

function ignoreMissing(error: unknown): void {
  if (!(error instanceof StoreError && error.code === 'ENOENT')) throw error;
}
