// Secrets at rest: access-key secrets are sealed with AES-256-GCM under a per-secret data key, which is
// itself sealed under the master key in `<data-dir>/master.key` (0600) — a KMS-style envelope. A dump of
// the database alone reveals no usable secret; the master key file must be kept (and backed up) with it.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { assert } from '../../base/assert.ts';
import { loadOrCreateKeyFile } from '../../base/key-file.ts';

const keyBytes = 32;
const ivBytes = 12;
const tagBytes = 16;
const format = 'v1';

/** Seals and opens small secrets with a master key. */
export class SecretBox {
  readonly #masterKey: Buffer;

  constructor(masterKey: Buffer) {
    assert(masterKey.length === keyBytes, 'master key must be 32 bytes');
    this.#masterKey = masterKey;
  }

  /** Loads `path`, creating it (0600, random 256-bit key) when absent. */
  static openOrCreate(path: string): SecretBox {
    return new SecretBox(loadOrCreateKeyFile(path));
  }

  /** Seals `plaintext`, bound to `context` (e.g. the access key id) so a sealed value cannot move rows. */
  seal(plaintext: string, context: string): string {
    const dataKey = randomBytes(keyBytes);
    const sealedKey = encrypt(this.#masterKey, dataKey, context);
    const sealedSecret = encrypt(dataKey, Buffer.from(plaintext, 'utf8'), context);
    return [format, sealedKey, sealedSecret].join('.');
  }

  /** Opens what `seal` produced with the same `context`; throws when the key or context differ. */
  open(sealed: string, context: string): string {
    const [version, sealedKey, sealedSecret] = sealed.split('.');
    if (version !== format || sealedKey === undefined || sealedSecret === undefined) {
      throw new Error('sealed secret has an unknown format');
    }
    const dataKey = decrypt(this.#masterKey, sealedKey, context);
    return decrypt(dataKey, sealedSecret, context).toString('utf8');
  }
}

function encrypt(key: Buffer, plaintext: Buffer, context: string): string {
  const iv = randomBytes(ivBytes);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

function decrypt(key: Buffer, sealed: string, context: string): Buffer {
  const raw = Buffer.from(sealed, 'base64url');
  assert(raw.length >= ivBytes + tagBytes, 'sealed value too short');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, ivBytes));
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(raw.subarray(ivBytes, ivBytes + tagBytes));
  return Buffer.concat([decipher.update(raw.subarray(ivBytes + tagBytes)), decipher.final()]);
}
