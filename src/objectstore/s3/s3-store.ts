// A SnapshotStore in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW) through @aws-sdk/client-s3.
// Every request is SigV4-signed with the payload's SHA-256, so the server rejects a body damaged in transit.
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { assert } from '../../base/assert.ts';
import {
  ArchiveError,
  checkKey,
  type ListOptions,
  type ObjectInfo,
  type ObjectPage,
  type PutOptions,
  type S3Settings,
  type SnapshotStore,
} from '../snapshot-store.ts';

/** How to reach the bucket; `prefix` is empty or ends in '/'. */
export interface S3StoreOptions extends S3Settings {
  readonly bucket: string;
  readonly prefix: string;
}

const listLimitMax = 1000; // S3's MaxKeys ceiling

/** Opens a store over an existing bucket (it is not created: that is the operator's choice). */
export function openS3Store(options: S3StoreOptions): SnapshotStore {
  assert(options.prefix === '' || options.prefix.endsWith('/'), 's3 prefix must be empty or end in /');
  const client = new S3Client({
    region: options.region ?? 'us-east-1',
    forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
    // Checksums beyond SigV4's payload hash are not understood by every S3-compatible server.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1, // the archiver retries with its own deadline and reason
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
  });
  return new S3Store(client, options.bucket, options.prefix);
}

function statusOf(error: unknown): number | undefined {
  if (error instanceof S3ServiceException) return error.$metadata.httpStatusCode;
  return undefined;
}

class S3Store implements SnapshotStore {
  readonly description: string;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;

  constructor(client: S3Client, bucket: string, prefix: string) {
    this.#client = client;
    this.#bucket = bucket;
    this.#prefix = prefix;
    this.description = `s3://${bucket}/${prefix}`;
  }

  #key(key: string): string {
    checkKey(key);
    return `${this.#prefix}${key}`;
  }

  #fail(operation: string, key: string, error: unknown): ArchiveError {
    if (error instanceof ArchiveError) return error;
    const status = statusOf(error);
    const name = (error as Error).name;
    return new ArchiveError(
      'EIO',
      `s3 ${operation} ${this.description}${key}: ${name} ${status ?? ''} ${(error as Error).message}`,
    );
  }

  async put(key: string, body: Buffer, options: PutOptions = {}): Promise<'written' | 'exists'> {
    const command = new PutObjectCommand({
      Bucket: this.#bucket,
      Key: this.#key(key),
      Body: body,
      ContentLength: body.length,
      // AWS S3 (since 2024), MinIO and RGW honour this; servers that ignore it overwrite with the same bytes.
      ...(options.ifAbsent === true ? { IfNoneMatch: '*' } : {}),
    });
    try {
      await this.#client.send(command);
      return 'written';
    } catch (error) {
      if (options.ifAbsent === true && statusOf(error) === 412) return 'exists';
      throw this.#fail('put', key, error);
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      const response = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: this.#key(key) }),
      );
      assert(response.Body !== undefined, 'GetObject without a body');
      return Buffer.from(await response.Body.transformToByteArray());
    } catch (error) {
      if (statusOf(error) === 404)
        throw new ArchiveError('ENOENT', `no object ${key} in ${this.description}`);
      throw this.#fail('get', key, error);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const response = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#key(key) }),
      );
      return {
        key,
        sizeBytes: response.ContentLength ?? 0,
        modifiedMs: response.LastModified?.getTime() ?? 0,
      };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw this.#fail('head', key, error);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#key(key) }));
    } catch (error) {
      if (statusOf(error) !== 404) throw this.#fail('delete', key, error);
    }
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ObjectPage> {
    const limit = Math.min(options.limit ?? listLimitMax, listLimitMax);
    assert(Number.isSafeInteger(limit) && limit > 0, 'list limit must be a positive integer');
    const command = new ListObjectsV2Command({
      Bucket: this.#bucket,
      Prefix: `${this.#prefix}${prefix}`,
      MaxKeys: limit,
      ...(options.startAfter === undefined ? {} : { StartAfter: this.#key(options.startAfter) }),
    });
    try {
      const response = await this.#client.send(command);
      const objects = (response.Contents ?? []).map((object) => ({
        key: (object.Key ?? '').slice(this.#prefix.length),
        sizeBytes: object.Size ?? 0,
        modifiedMs: object.LastModified?.getTime() ?? 0,
      }));
      return { objects, truncated: response.IsTruncated === true };
    } catch (error) {
      throw this.#fail('list', prefix, error);
    }
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }
}
