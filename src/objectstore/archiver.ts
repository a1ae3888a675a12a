// Archives a pool snapshot into a SnapshotStore: only chunks changed since the parent move, zero chunks are
// skipped, chunks already stored are not sent again, and the manifest goes last (complete iff it exists).
import { assert } from '../base/assert.ts';
import { limits } from '../base/limits.ts';
import type { BlockStore } from '../storage/block-store.ts';
import {
  chunkKey,
  chunkLength,
  encodeManifest,
  manifestFormatVersion,
  manifestKey,
  sha256Hex,
  type Manifest,
} from './archive-format.ts';
import { readManifestAt } from './restorer.ts';
import { forEachBounded, withRetry, type RetryPolicy } from './retry.ts';
import { ArchiveError, type SnapshotStore } from './snapshot-store.ts';

/** Progress of one archive: `doneBytes / totalBytes` is the true fraction of the work (changed chunks). */
export interface ArchiveProgress {
  readonly doneBytes: number;
  readonly totalBytes: number;
  readonly uploadedBytes: number;
}

/** What to archive and where. */
export interface ArchiveOptions {
  readonly store: BlockStore;
  readonly snapshotId: string;
  /** An archived snapshot of the same volume: only chunks changed since it are read and sent. */
  readonly parentSnapshotId?: string;
  readonly target: SnapshotStore;
  /** Chunks in flight; default `limits.archiveChunksInFlight`. */
  readonly concurrency?: number;
  readonly onProgress?: (progress: ArchiveProgress) => void;
  /** Per-operation retry deadline; default `limits.archiveRetryDeadlineMs`. */
  readonly retryDeadlineMs?: number;
  /** The GC grace this archive must respect (see docs/archive.md); default `limits.archiveSweepGraceMs`. */
  readonly sweepGraceMs?: number;
}

/** What an archive did, in chunks (512 KiB) and bytes. */
export interface ArchiveResult {
  readonly manifest: Manifest;
  /** True when the manifest already existed and nothing was done. */
  readonly alreadyArchived: boolean;
  /** Chunks read because they may differ from the parent. */
  readonly chunksExamined: number;
  readonly chunksUploaded: number;
  /** Examined chunks already in the store (dedup, or a resumed archive). */
  readonly chunksPresent: number;
  readonly chunksZero: number;
  readonly bytesUploaded: number;
  readonly retries: number;
}

/** Chunk indices overlapping the byte ranges, in order. */
function changedChunks(ranges: { offset: number; length: number }[], chunkBytes: number): number[] {
  const indices = new Set<number>();
  for (const range of ranges) {
    const last = Math.floor((range.offset + range.length - 1) / chunkBytes);
    for (let index = Math.floor(range.offset / chunkBytes); index <= last; index++) indices.add(index);
  }
  return [...indices].sort((a, b) => a - b);
}

async function loadParent(options: ArchiveOptions, policy: RetryPolicy): Promise<Manifest | null> {
  const parentId = options.parentSnapshotId;
  if (parentId === undefined) return null;
  const key = manifestKey(parentId);
  return readManifestAt(options.target, key, policy).catch((error: unknown) => {
    if (error instanceof ArchiveError && error.code === 'ENOENT') {
      throw new ArchiveError('EINVAL', `parent ${parentId} is not archived in ${options.target.description}`);
    }
    throw error;
  });
}

/** Archives one snapshot; idempotent and resumable (a re-run sends only what is missing). */
export async function archiveSnapshot(options: ArchiveOptions): Promise<ArchiveResult> {
  const startedMs = Date.now();
  const { store, snapshotId, target } = options;
  const device = store.device(snapshotId);
  if (device?.kind !== 'snapshot') throw new ArchiveError('ENOENT', `no snapshot ${snapshotId} in the pool`);
  let retries = 0;
  const policy: RetryPolicy = {
    deadlineMs: options.retryDeadlineMs ?? limits.archiveRetryDeadlineMs,
    onRetry: () => void retries++,
  };
  const key = manifestKey(snapshotId);
  const existing = await withRetry(`head ${key}`, policy, () => target.head(key));
  if (existing !== undefined) {
    const manifest = await readManifestAt(target, key, policy);
    return {
      manifest,
      alreadyArchived: true,
      chunksExamined: 0,
      chunksUploaded: 0,
      chunksPresent: 0,
      chunksZero: 0,
      bytesUploaded: 0,
      retries,
    };
  }
  const chunkBytes = limits.ebsBlockBytes;
  const parent = await loadParent(options, policy);
  // The pool can diff only against a parent it still holds; otherwise every chunk is examined.
  const parentInPool =
    parent !== null &&
    store.device(parent.snapshotId)?.kind === 'snapshot' &&
    parent.chunkBytes === chunkBytes;
  const chunkCount = Math.ceil(device.sizeBytes / chunkBytes);
  const hashes = new Map<number, string>(
    parentInPool ? parent.chunks.filter(([index]) => index < chunkCount) : [],
  );
  const indices = changedChunks(store.diff(parentInPool ? parent.snapshotId : null, snapshotId), chunkBytes);
  const shape = { sizeBytes: device.sizeBytes, chunkBytes };
  const totalBytes = indices.reduce((sum, index) => sum + chunkLength(shape, index), 0);
  const counts = { doneBytes: 0, uploadedBytes: 0, uploaded: 0, present: 0, zero: 0 };
  const freshAfterMs = startedMs - (options.sweepGraceMs ?? limits.archiveSweepGraceMs) / 2;
  await forEachBounded(indices, options.concurrency ?? limits.archiveChunksInFlight, async (index) => {
    const length = chunkLength(shape, index);
    const data = await store.read(snapshotId, index * chunkBytes, length);
    assert(data.length === length, 'pool read returned a short chunk');
    if (data.every((byte) => byte === 0)) {
      hashes.delete(index);
      counts.zero++;
    } else {
      const hash = sha256Hex(data);
      hashes.set(index, hash);
      const outcome = await uploadChunk(target, hash, data, freshAfterMs, policy);
      if (outcome === 'present') counts.present++;
      else {
        counts.uploaded++;
        counts.uploadedBytes += length;
      }
    }
    counts.doneBytes += length;
    options.onProgress?.({ doneBytes: counts.doneBytes, totalBytes, uploadedBytes: counts.uploadedBytes });
  });
  assert(counts.doneBytes === totalBytes, 'every examined chunk was accounted for');
  const manifest: Manifest = {
    formatVersion: manifestFormatVersion,
    snapshotId,
    sizeBytes: device.sizeBytes,
    chunkBytes,
    parentSnapshotId: parent?.snapshotId ?? null,
    createdAt: new Date().toISOString(),
    chunks: [...hashes].sort((a, b) => a[0] - b[0]),
  };
  await writeManifest(
    target,
    manifest,
    startedMs,
    options.sweepGraceMs ?? limits.archiveSweepGraceMs,
    policy,
  );
  return {
    manifest,
    alreadyArchived: false,
    chunksExamined: indices.length,
    chunksUploaded: counts.uploaded,
    chunksPresent: counts.present,
    chunksZero: counts.zero,
    bytesUploaded: counts.uploadedBytes,
    retries,
  };
}

/** Sends a chunk unless a recent copy is there; an old copy is rewritten so GC's grace covers this archive. */
async function uploadChunk(
  target: SnapshotStore,
  hash: string,
  data: Buffer,
  freshAfterMs: number,
  policy: RetryPolicy,
): Promise<'present' | 'uploaded'> {
  const key = chunkKey(hash);
  const info = await withRetry(`head ${key}`, policy, () => target.head(key));
  if (info !== undefined && info.sizeBytes === data.length && info.modifiedMs >= freshAfterMs)
    return 'present';
  // Re-check the bytes just before they leave: a pool bug must not become a chunk under the wrong name.
  assert(sha256Hex(data) === hash, 'chunk bytes changed before upload');
  const stale = info !== undefined;
  await withRetry(`put ${key}`, policy, () => target.put(key, data, { ifAbsent: !stale }));
  return 'uploaded';
}

/** Writes the manifest last; refuses when the archive outlived half the GC grace (its chunks may be swept). */
async function writeManifest(
  target: SnapshotStore,
  manifest: Manifest,
  startedMs: number,
  sweepGraceMs: number,
  policy: RetryPolicy,
): Promise<void> {
  const elapsedMs = Date.now() - startedMs;
  if (elapsedMs > sweepGraceMs / 2) {
    throw new ArchiveError(
      'ETIMEDOUT',
      `archive of ${manifest.snapshotId} took ${elapsedMs} ms, over half the GC grace (${sweepGraceMs} ms); run it again`,
    );
  }
  const key = manifestKey(manifest.snapshotId);
  await withRetry(`put ${key}`, policy, () => target.put(key, encodeManifest(manifest)));
}
