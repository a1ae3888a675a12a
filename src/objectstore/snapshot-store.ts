// The snapshot archive's object store interface: what the archiver, restorer and GC rely on. A leaf: the
// backends in objectstore/dir/ (a directory, possibly NFS) and objectstore/s3/ (any S3-compatible store)
// import it, and open-snapshot-store.ts picks one.

/** What a store knows of one object. `modifiedMs` is the store's clock (S3 LastModified, file mtime). */
export interface ObjectInfo {
  readonly key: string;
  readonly sizeBytes: number;
  readonly modifiedMs: number;
}

/** One page of a listing, sorted by key; continue with `startAfter` = the last key while `truncated`. */
export interface ObjectPage {
  readonly objects: ObjectInfo[];
  readonly truncated: boolean;
}

/** Options of a put. `ifAbsent`: do not overwrite an existing object (content-addressed chunks). */
export interface PutOptions {
  readonly ifAbsent?: boolean;
}

/** Options of a listing page. */
export interface ListOptions {
  readonly startAfter?: string;
  readonly limit?: number;
}

/** Typed error codes of the archive (store operating errors and archive-level failures). */
export type ArchiveErrorCode =
  | 'ENOENT' // no such object or archived snapshot
  | 'ECORRUPT' // an object's bytes do not match their hash, or a manifest fails its checksum
  | 'EIO' // the store failed an operation (network, permissions, disk)
  | 'ETIMEDOUT' // retries ran out of time; the message carries the last reason
  | 'EINVAL' // a bad key, option or argument from the caller
  | 'ECANCELED'; // the daemon is stopping; the archive resumes on the next start

/** The one error class of the archive; `code` says which operating error it is. */
export class ArchiveError extends Error {
  override readonly name = 'ArchiveError';
  constructor(
    readonly code: ArchiveErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A flat key/value object store. Keys are `[A-Za-z0-9._-]` segments joined by `/`.
 *
 * Durability contract: a put that resolved is durable and atomic (readers see the old object or the whole
 * new one, never a torn one); a delete that resolved is durable. Deleting a missing object succeeds.
 */
export interface SnapshotStore {
  /** Where the store lives, for messages (`dir:/srv/archive`, `s3://bucket/prefix`). */
  readonly description: string;
  /** Stores `body` at `key`; with `ifAbsent`, an existing object is left alone and 'exists' returned. */
  put(key: string, body: Buffer, options?: PutOptions): Promise<'written' | 'exists'>;
  /** The object's bytes; throws ArchiveError ENOENT when missing. */
  get(key: string): Promise<Buffer>;
  /** The object's metadata, or undefined when missing. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Removes the object; a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** One page of the objects whose key starts with `prefix`, in key order. */
  list(prefix: string, options?: ListOptions): Promise<ObjectPage>;
  /** Releases connections; the store is unusable afterwards. */
  close(): Promise<void>;
}

const keyPattern = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

/** Checks a key's shape; a bad key is the caller's bug but may come from a listing, so it is an operating error. */
export function checkKey(key: string): void {
  if (!keyPattern.test(key) || key.split('/').some((part) => part === '.' || part === '..')) {
    throw new ArchiveError(
      'EINVAL',
      `object key must match ${keyPattern}: current value is ${JSON.stringify(key)}`,
    );
  }
}

/** Every object under `prefix`, page by page (the whole listing; for GC and tests). */
export async function* listAll(store: SnapshotStore, prefix: string): AsyncGenerator<ObjectInfo> {
  let startAfter: string | undefined;
  for (;;) {
    const page = await store.list(prefix, startAfter === undefined ? {} : { startAfter });
    for (const object of page.objects) yield object;
    const last = page.objects.at(-1);
    if (!page.truncated || last === undefined) return;
    startAfter = last.key;
  }
}

/** S3 connection settings that the `s3://` option does not carry. */
export interface S3Settings {
  /** e.g. http://127.0.0.1:9000; default: AWS's regional endpoint. */
  readonly endpoint?: string;
  readonly region?: string;
  /** Path-style URLs (MinIO, Ceph RGW, s3rver); default true when an endpoint is given. */
  readonly forcePathStyle?: boolean;
  /** Default: the SDK's credential chain (environment, shared files). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** Where snapshots are archived: the parsed `--snapshot-store` option. */
export type SnapshotStoreConfig =
  | { readonly kind: 'none' }
  | { readonly kind: 'dir'; readonly path: string }
  | { readonly kind: 's3'; readonly bucket: string; readonly prefix: string; readonly settings: S3Settings };

/** Parses `none`, `dir:/abs/path` or `s3://bucket[/prefix]`; S3 endpoint options come separately. */
export function parseSnapshotStoreOption(text: string, s3: S3Settings = {}): SnapshotStoreConfig {
  if (text === 'none') return { kind: 'none' };
  if (text.startsWith('dir:')) {
    const path = text.slice('dir:'.length);
    if (!path.startsWith('/')) {
      throw new ArchiveError(
        'EINVAL',
        `snapshot store 'dir:' needs an absolute path: current value is ${text}`,
      );
    }
    return { kind: 'dir', path };
  }
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(text);
  if (match !== null) {
    const prefix = (match[2] ?? '').replace(/\/+$/, '');
    if (prefix !== '') checkKey(prefix);
    return { kind: 's3', bucket: match[1] ?? '', prefix: prefix === '' ? '' : `${prefix}/`, settings: s3 };
  }
  throw new ArchiveError(
    'EINVAL',
    `snapshot store must be 'none', 'dir:/path' or 's3://bucket/prefix': current value is ${JSON.stringify(text)}`,
  );
}
