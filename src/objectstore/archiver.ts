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
import { forEachBounded } from './retry.ts';
import { RetryingStore } from './retrying-store.ts';
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

async function loadParent(options: ArchiveOptions, target: SnapshotStore): Promise<Manifest | null> {
  const parentId = options.parentSnapshotId;
  if (parentId === undefined) return null;
  return readManifestAt(target, manifestKey(parentId)).catch((error: unknown) => {
    if (error instanceof ArchiveError && error.code === 'ENOENT') {
      throw new ArchiveError('EINVAL', `parent ${parentId} is not archived in ${target.description}`);
    }
    throw error;
  });
}

/** The chunks one archive examines, and the hashes it inherits from its parent. */
interface ChunkPlan {
  readonly shape: { readonly sizeBytes: number; readonly chunkBytes: number };
  /** Chunk index -> hash; starts as the parent's, ends as the manifest's (zero chunks absent). */
  readonly hashes: Map<number, string>;
  readonly indices: number[];
  readonly totalBytes: number;
}

function planChunks(
  store: BlockStore,
  snapshotId: string,
  sizeBytes: number,
  parent: Manifest | null,
): ChunkPlan {
  const chunkBytes = limits.ebsBlockBytes;
  // The pool can diff only against a parent it still holds; otherwise every chunk is examined.
  const parentInPool =
    parent !== null &&
    store.device(parent.snapshotId)?.kind === 'snapshot' &&
    parent.chunkBytes === chunkBytes;
  const chunkCount = Math.ceil(sizeBytes / chunkBytes);
  const hashes = new Map<number, string>(
    parentInPool ? parent.chunks.filter(([index]) => index < chunkCount) : [],
  );
  const indices = changedChunks(store.diff(parentInPool ? parent.snapshotId : null, snapshotId), chunkBytes);
  const shape = { sizeBytes, chunkBytes };
  const totalBytes = indices.reduce((sum, index) => sum + chunkLength(shape, index), 0);
  return { shape, hashes, indices, totalBytes };
}

/** What sending the examined chunks did. */
interface SendCounts {
  doneBytes: number;
  uploadedBytes: number;
  uploaded: number;
  present: number;
  zero: number;
}

/** Reads every planned chunk from the pool and sends those not already (recently) in the store. */
async function sendChunks(
  options: ArchiveOptions,
  target: SnapshotStore,
  plan: ChunkPlan,
  freshAfterMs: number,
): Promise<SendCounts> {
  const { store, snapshotId } = options;
  const { shape, hashes, totalBytes } = plan;
  const counts: SendCounts = { doneBytes: 0, uploadedBytes: 0, uploaded: 0, present: 0, zero: 0 };
  await forEachBounded(plan.indices, options.concurrency ?? limits.archiveChunksInFlight, async (index) => {
    const length = chunkLength(shape, index);
    const data = await store.read(snapshotId, index * shape.chunkBytes, length);
    assert(data.length === length, 'pool read returned a short chunk');
    if (data.every((byte) => byte === 0)) {
      hashes.delete(index);
      counts.zero++;
    } else {
      const hash = sha256Hex(data);
      hashes.set(index, hash);
      const outcome = await uploadChunk(target, hash, data, freshAfterMs);
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
  return counts;
}

/** Archives one snapshot; idempotent and resumable (a re-run sends only what is missing). */
export async function archiveSnapshot(options: ArchiveOptions): Promise<ArchiveResult> {
  const startedMs = Date.now();
  const { store, snapshotId } = options;
  const device = store.device(snapshotId);
  if (device?.kind !== 'snapshot') throw new ArchiveError('ENOENT', `no snapshot ${snapshotId} in the pool`);
  let retries = 0;
  const target = new RetryingStore(options.target, {
    deadlineMs: options.retryDeadlineMs ?? limits.archiveRetryDeadlineMs,
    onRetry: () => void retries++,
  });
  const key = manifestKey(snapshotId);
  if ((await target.head(key)) !== undefined) {
    const manifest = await readManifestAt(target, key);
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
  const parent = await loadParent(options, target);
  const plan = planChunks(store, snapshotId, device.sizeBytes, parent);
  const sweepGraceMs = options.sweepGraceMs ?? limits.archiveSweepGraceMs;
  const counts = await sendChunks(options, target, plan, startedMs - sweepGraceMs / 2);
  const manifest: Manifest = {
    formatVersion: manifestFormatVersion,
    snapshotId,
    sizeBytes: device.sizeBytes,
    chunkBytes: plan.shape.chunkBytes,
    parentSnapshotId: parent?.snapshotId ?? null,
    createdAt: new Date().toISOString(),
    chunks: [...plan.hashes].sort((a, b) => a[0] - b[0]),
  };
  await writeManifest(target, manifest, startedMs, sweepGraceMs);
  return {
    manifest,
    alreadyArchived: false,
    chunksExamined: plan.indices.length,
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
): Promise<'present' | 'uploaded'> {
  const key = chunkKey(hash);
  const info = await target.head(key);
  if (info !== undefined && info.sizeBytes === data.length && info.modifiedMs >= freshAfterMs)
    return 'present';
  // Re-check the bytes just before they leave: a pool bug must not become a chunk under the wrong name.
  assert(sha256Hex(data) === hash, 'chunk bytes changed before upload');
  const stale = info !== undefined;
  await target.put(key, data, { ifAbsent: !stale });
  return 'uploaded';
}

/** Writes the manifest last; refuses when the archive outlived half the GC grace (its chunks may be swept). */
async function writeManifest(
  target: SnapshotStore,
  manifest: Manifest,
  startedMs: number,
  sweepGraceMs: number,
): Promise<void> {
  const elapsedMs = Date.now() - startedMs;
  if (elapsedMs > sweepGraceMs / 2) {
    throw new ArchiveError(
      'ETIMEDOUT',
      `archive of ${manifest.snapshotId} took ${elapsedMs} ms, over half the GC grace (${sweepGraceMs} ms); run it again`,
    );
  }
  await target.put(manifestKey(manifest.snapshotId), encodeManifest(manifest));
}
