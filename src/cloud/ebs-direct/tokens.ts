// EBS direct BlockTokens and NextTokens: HMAC-SHA256 under a key kept in `<data-dir>/ebs-token.key`
// (0600, created on first use). A BlockToken binds snapshot id + block index + expiry, so it cannot be moved
// to another block or snapshot, forged, or used after it expires (AWS: 7 days). A page token binds the
// listing it continues and the next block index.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { assert } from '../../base/assert.ts';
import { loadOrCreateKeyFile } from '../../base/key-file.ts';

const keyBytes = 32;
const macBytes = 32;
const version = 1;

/** Mints and checks block and page tokens. */
export class EbsTokens {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    assert(key.length === keyBytes, 'EBS token key must be 32 bytes');
    this.#key = key;
  }

  /** Loads the key at `path`, creating it (random, 0600) when absent. */
  static openOrCreate(path: string): EbsTokens {
    return new EbsTokens(loadOrCreateKeyFile(path));
  }

  /** A BlockToken for one block of one snapshot, valid until `expiresAtSeconds` (Unix time). */
  blockToken(snapshotId: string, blockIndex: number, expiresAtSeconds: number): string {
    assert(Number.isSafeInteger(blockIndex) && blockIndex >= 0, 'block index must be a natural number');
    assert(Number.isSafeInteger(expiresAtSeconds) && expiresAtSeconds > 0, 'expiry must be Unix seconds');
    const header = Buffer.alloc(9);
    header.writeUInt8(version, 0);
    header.writeBigUInt64BE(BigInt(expiresAtSeconds), 1);
    const mac = this.#mac('block', snapshotId, String(blockIndex), String(expiresAtSeconds));
    return Buffer.concat([header, mac]).toString('base64');
  }

  /** Why `token` does not open block `blockIndex` of `snapshotId` at `nowSeconds`, or undefined when it does. */
  checkBlockToken(
    token: string,
    snapshotId: string,
    blockIndex: number,
    nowSeconds: number,
  ): string | undefined {
    const raw = Buffer.from(token, 'base64');
    if (raw.length !== 9 + macBytes || raw.readUInt8(0) !== version) return 'the block token is malformed';
    const expiresAtSeconds = Number(raw.readBigUInt64BE(1));
    const mac = this.#mac('block', snapshotId, String(blockIndex), String(expiresAtSeconds));
    if (!timingSafeEqual(mac, raw.subarray(9)))
      return 'the block token is not valid for this snapshot and block';
    if (expiresAtSeconds <= nowSeconds) return 'the block token has expired';
    return undefined;
  }

  /** An opaque NextToken resuming `listing` (e.g. `blocks:snap-…`) at block `nextIndex`. */
  pageToken(listing: string, nextIndex: number): string {
    assert(Number.isSafeInteger(nextIndex) && nextIndex >= 0, 'page position must be a natural number');
    const mac = this.#mac('page', listing, String(nextIndex)).subarray(0, 16);
    return Buffer.concat([Buffer.from(`${nextIndex}.`), mac]).toString('base64url');
  }

  /** The block index a NextToken resumes at, or undefined when it is not a token of `listing`. */
  openPageToken(token: string, listing: string): number | undefined {
    const raw = Buffer.from(token, 'base64url');
    const dot = raw.indexOf('.');
    if (dot < 1 || raw.length !== dot + 1 + 16) return undefined;
    const text = raw.subarray(0, dot).toString('latin1');
    if (!/^\d{1,15}$/.test(text)) return undefined;
    const mac = this.#mac('page', listing, text).subarray(0, 16);
    return timingSafeEqual(mac, raw.subarray(dot + 1)) ? Number(text) : undefined;
  }

  #mac(...parts: string[]): Buffer {
    return createHmac('sha256', this.#key).update(parts.join('\n')).digest();
  }
}
