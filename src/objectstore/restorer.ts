// Reads archived snapshots back: whole-volume restore into a pool, verification, and the per-chunk
// primitive (`readChunk`) a lazy restore will call per range. No chunk is ever returned unverified.
import { assert } from '../base/assert.ts';
import { limits } from '../base/limits.ts';
import type { BlockStore } from '../storage/block-store.ts';
import {
  chunkKey,
  chunkLength,
  decodeManifest,
  manifestKey,
  manifestPrefix,
  sha256Hex,
  type Manifest,
} from './archive-format.ts';
import { forEachBounded } from './retry.ts';
import { RetryingStore } from './retrying-store.ts';
import { ArchiveError, listAll, type SnapshotStore } from './snapshot-store.ts';

/** Reads of one chunk that came back with the wrong bytes before it is declared corrupt (short reads heal). */
const chunkReadAttemptsMax = 8;

/** `source`, retrying each operation until the per-operation deadline (default limits.archiveRetryDeadlineMs). */
function retrying(source: SnapshotStore, retryDeadlineMs: number | undefined): SnapshotStore {
  return new RetryingStore(source, { deadlineMs: retryDeadlineMs ?? limits.archiveRetryDeadlineMs });
}

/** Loads and checks an archived snapshot's manifest; ENOENT when it is not (completely) archived. */
export async function readManifest(
  source: SnapshotStore,
  snapshotId: string,
  retryDeadlineMs?: number,
): Promise<Manifest> {
  return readManifestAt(retrying(source, retryDeadlineMs), manifestKey(snapshotId));
}

/**
 * Reads and decodes the manifest at `key`; a read that fails its checksum is re-read (short reads heal).
 * `source` should retry (a RetryingStore): this re-reads only bytes that came back wrong.
 */
export async function readManifestAt(source: SnapshotStore, key: string): Promise<Manifest> {
  for (let attempt = 1; ; attempt++) {
    const data = await source.get(key);
    try {
      return decodeManifest(data, key);
    } catch (error) {
      if (!(error instanceof ArchiveError && error.code === 'ECORRUPT') || attempt >= chunkReadAttemptsMax)
        throw error;
    }
  }
}

/** Every archived snapshot id, sorted. */
export async function listArchivedSnapshots(source: SnapshotStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const object of listAll(source, manifestPrefix)) {
    const match = /^manifests\/(snap-[0-9a-z]+)\.json$/.exec(object.key);
    if (match?.[1] !== undefined) ids.push(match[1]);
  }
  return ids.sort();
}

/** The bytes of one chunk, checked against its hash and length; ECORRUPT if they never match. */
export async function readChunk(
  source: SnapshotStore,
  sha256: string,
  lengthBytes: number,
  retryDeadlineMs?: number,
): Promise<Buffer> {
  return readVerifiedChunk(retrying(source, retryDeadlineMs), sha256, lengthBytes);
}

/** readChunk from a store that already retries. */
async function readVerifiedChunk(
  source: SnapshotStore,
  sha256: string,
  lengthBytes: number,
): Promise<Buffer> {
  const key = chunkKey(sha256);
  let last = '';
  for (let attempt = 1; attempt <= chunkReadAttemptsMax; attempt++) {
    const data = await source.get(key);
    if (data.length === lengthBytes && sha256Hex(data) === sha256) return data;
    last =
      data.length === lengthBytes
        ? 'bytes do not match the hash'
        : `${data.length} bytes, expected ${lengthBytes}`;
  }
  throw new ArchiveError('ECORRUPT', `chunk ${key} in ${source.description} is corrupt: ${last}`);
}

/** The hash of the chunk at `index`, or null for a zero chunk (a lazy reader serves zeros). */
export function chunkAt(manifest: Manifest, index: number): string | null {
  let low = 0;
  let high = manifest.chunks.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const entry = manifest.chunks[middle];
    assert(entry !== undefined, 'binary search stays in bounds');
    if (entry[0] === index) return entry[1];
    if (entry[0] < index) low = middle + 1;
    else high = middle - 1;
  }
  return null;
}

/** What to restore and where. */
export interface RestoreOptions {
  readonly source: SnapshotStore;
  readonly snapshotId: string;
  readonly store: BlockStore;
  /** A new volume of the snapshot's size; it must not exist. Take `store.snapshot()` of it to get the snapshot back. */
  readonly volumeId: string;
  readonly concurrency?: number;
  readonly onProgress?: (progress: { doneBytes: number; totalBytes: number }) => void;
  readonly retryDeadlineMs?: number;
}

/** The scratch volume a restore writes into (or reads through) before it becomes the snapshot again. */
export function restoreScratchVolumeId(snapshotId: string): string {
  return `vol-${snapshotId.slice('snap-'.length)}`;
}

/** Restores an archived snapshot into a fresh volume, verifying every chunk; the volume is deleted on failure. */
export async function restoreSnapshot(options: RestoreOptions): Promise<Manifest> {
  const { store, volumeId } = options;
  const source = retrying(options.source, options.retryDeadlineMs);
  const manifest = await readManifestAt(source, manifestKey(options.snapshotId));
  await store.createVolume(volumeId, manifest.sizeBytes);
  const totalBytes = manifest.chunks.reduce((sum, [index]) => sum + chunkLength(manifest, index), 0);
  let doneBytes = 0;
  try {
    await forEachBounded(
      manifest.chunks,
      options.concurrency ?? limits.archiveChunksInFlight,
      async ([index, hash]) => {
        const length = chunkLength(manifest, index);
        const data = await readVerifiedChunk(source, hash, length);
        await store.write(volumeId, index * manifest.chunkBytes, data);
        doneBytes += length;
        options.onProgress?.({ doneBytes, totalBytes });
      },
    );
    await store.flush();
  } catch (error) {
    await store.deleteVolume(volumeId).catch(() => undefined);
    throw error;
  }
  assert(doneBytes === totalBytes, 'every chunk was restored');
  return manifest;
}

/** What a verification found; `ok` iff nothing is missing or corrupt. */
export interface VerifyReport {
  readonly ok: boolean;
  readonly chunksChecked: number;
  readonly bytesChecked: number;
  readonly missing: string[];
  readonly corrupt: string[];
}

/** Re-reads every chunk of an archived snapshot and checks its hash; reports instead of throwing per chunk. */
export async function verifySnapshot(options: {
  source: SnapshotStore;
  snapshotId: string;
  concurrency?: number;
  retryDeadlineMs?: number;
}): Promise<VerifyReport> {
  const source = retrying(options.source, options.retryDeadlineMs);
  const manifest = await readManifestAt(source, manifestKey(options.snapshotId));
  const missing: string[] = [];
  const corrupt: string[] = [];
  let bytesChecked = 0;
  const unique = new Map(manifest.chunks.map(([index, hash]) => [hash, chunkLength(manifest, index)]));
  await forEachBounded(
    unique,
    options.concurrency ?? limits.archiveChunksInFlight,
    async ([hash, length]) => {
      try {
        await readVerifiedChunk(source, hash, length);
        bytesChecked += length;
      } catch (error) {
        if (!(error instanceof ArchiveError)) throw error;
        if (error.code === 'ENOENT') missing.push(hash);
        else if (error.code === 'ECORRUPT') corrupt.push(hash);
        else throw error;
      }
    },
  );
  return {
    ok: missing.length + corrupt.length === 0,
    chunksChecked: unique.size,
    bytesChecked,
    missing: missing.sort(),
    corrupt: corrupt.sort(),
  };
}
