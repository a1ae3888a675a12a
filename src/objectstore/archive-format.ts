// The archive's on-store format: content-addressed chunks and one self-checking manifest per snapshot.
//   chunks/ab/abcdef…        the bytes of one 512 KiB chunk (shorter at the end), named by their SHA-256
//   manifests/snap-….json    the snapshot: size, parent, chunk size, index -> sha256 of every non-zero chunk
import { createHash } from 'node:crypto';
import { assert } from '../base/assert.ts';
import { ArchiveError } from './snapshot-store.ts';

/** Manifest format version; readers refuse a newer one. */
export const manifestFormatVersion = 1;

/** Key prefix of every manifest. */
export const manifestPrefix = 'manifests/';
/** Key prefix of every chunk. */
export const chunkPrefix = 'chunks/';

/** One archived snapshot. `chunks` maps chunk index to SHA-256 (hex) for every non-zero chunk, sorted. */
export interface Manifest {
  readonly formatVersion: number;
  readonly snapshotId: string;
  readonly sizeBytes: number;
  readonly chunkBytes: number;
  /** The snapshot this one was archived incrementally against (it shares its unchanged chunks), or null. */
  readonly parentSnapshotId: string | null;
  readonly createdAt: string;
  readonly chunks: ReadonlyArray<readonly [index: number, sha256: string]>;
}

const sha256Pattern = /^[0-9a-f]{64}$/;
const snapshotIdPattern = /^snap-[0-9a-z]+$/;

/** Hex SHA-256 of `data`. */
export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The key of the chunk with this hash. */
export function chunkKey(sha256: string): string {
  assert(sha256Pattern.test(sha256), `chunk hash must be 64 hex digits: ${sha256}`);
  return `${chunkPrefix}${sha256.slice(0, 2)}/${sha256}`;
}

/** The hash named by a chunk key, or undefined for a foreign key. */
export function chunkHashOfKey(key: string): string | undefined {
  const hash = key.slice(key.lastIndexOf('/') + 1);
  return key.startsWith(chunkPrefix) && sha256Pattern.test(hash) ? hash : undefined;
}

/** The key of a snapshot's manifest. */
export function manifestKey(snapshotId: string): string {
  if (!snapshotIdPattern.test(snapshotId)) {
    throw new ArchiveError('EINVAL', `snapshot id must look like snap-…: current value is ${snapshotId}`);
  }
  return `${manifestPrefix}${snapshotId}.json`;
}

/** Bytes held by chunk `index` of a device of `sizeBytes` (the last chunk may be short). */
export function chunkLength(manifest: Pick<Manifest, 'sizeBytes' | 'chunkBytes'>, index: number): number {
  const start = index * manifest.chunkBytes;
  assert(start < manifest.sizeBytes, `chunk ${index} is past the end`);
  return Math.min(manifest.chunkBytes, manifest.sizeBytes - start);
}

/** Serialises a manifest with a trailing SHA-256 of everything before it. */
export function encodeManifest(manifest: Manifest): Buffer {
  assert(
    manifest.chunks.every(([, hash]) => sha256Pattern.test(hash)),
    'manifest chunk hashes are hex',
  );
  const body = JSON.stringify(manifest);
  return Buffer.from(`${body.slice(0, -1)},"checksum":"${sha256Hex(Buffer.from(body))}"}`);
}

/** Parses and checks a manifest; a damaged or foreign one is ECORRUPT. */
export function decodeManifest(data: Buffer, key: string): Manifest {
  const text = data.toString('utf8');
  const match = /^(\{.*),"checksum":"([0-9a-f]{64})"\}$/s.exec(text);
  if (match === null || sha256Hex(Buffer.from(`${match[1]}}`)) !== match[2]) {
    throw new ArchiveError('ECORRUPT', `manifest ${key} fails its checksum`);
  }
  const manifest = JSON.parse(`${match[1]}}`) as Manifest;
  if (manifest.formatVersion !== manifestFormatVersion) {
    throw new ArchiveError(
      'ECORRUPT',
      `manifest ${key} has format ${manifest.formatVersion}, expected ${manifestFormatVersion}`,
    );
  }
  const chunkCount = Math.ceil(manifest.sizeBytes / manifest.chunkBytes);
  let previous = -1;
  for (const [index, hash] of manifest.chunks) {
    if (!(
      Number.isSafeInteger(index) &&
      index > previous &&
      index < chunkCount &&
      sha256Pattern.test(hash)
    )) {
      throw new ArchiveError('ECORRUPT', `manifest ${key} has a bad chunk entry ${index}`);
    }
    previous = index;
  }
  return manifest;
}
