// Key material for EC2 key pairs: generating a pair, reading an imported public key, and EC2's fingerprints.
// Pure functions over node:crypto (generation, digests) and sshpk (OpenSSH formats), so they are tested
// against ssh-keygen and openssl without a daemon.
//
// EC2's fingerprints differ by origin (EC2 API reference, KeyPairInfo.keyFingerprint, and the user guide's
// openssl recipes): a created RSA key is the SHA-1 of its private key as DER PKCS#8; an imported RSA key is
// the MD5 of its public key as DER SubjectPublicKeyInfo (both colon-separated hex); an ed25519 key, created
// or imported, is the base64 SHA-256 of the OpenSSH public key blob, as `ssh-keygen -l` prints it after
// `SHA256:`, but with base64's `=` padding, as EC2 shows it.
import { createHash, createPublicKey, generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import sshpk from 'sshpk';
import { assert } from '../../base/assert.ts';
import { limits } from '../../base/limits.ts';
import { ec2Error } from '../errors.ts';

const generate = promisify(generateKeyPair);

/** The key types EC2 creates and imports. */
export type KeyType = 'rsa' | 'ed25519';

/** RSA keys EC2 creates are 2048 bits; imported ones must have at least that many (and at most this). */
export const rsaBitsCreated = 2048;
const rsaBitsImportedMax = 16384;

/** A freshly created key pair: the private key (returned once) and what is kept. */
export interface CreatedKey {
  /** PEM: PKCS#1 (`BEGIN RSA PRIVATE KEY`) for rsa, OpenSSH (`BEGIN OPENSSH PRIVATE KEY`) for ed25519, as EC2. */
  readonly privateKey: string;
  /** `ssh-rsa AAAA… NAME`. */
  readonly publicKey: string;
  readonly fingerprint: string;
}

/** An imported public key: what is kept. */
export interface ImportedKey {
  readonly type: KeyType;
  readonly publicKey: string;
  readonly fingerprint: string;
}

/** Creates a key pair of `type` named `name` (the name is the public key's comment, as EC2 writes it). */
export async function createKeyMaterial(type: KeyType, name: string): Promise<CreatedKey> {
  if (type === 'rsa') {
    const pair = await generate('rsa', { modulusLength: rsaBitsCreated });
    const pkcs8 = pair.privateKey.export({ type: 'pkcs8', format: 'der' });
    const privateKey = pair.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    return {
      privateKey,
      publicKey: openssh(sshpk.parseKey(pair.publicKey.export({ type: 'spki', format: 'pem' }), 'pem'), name),
      fingerprint: colonHex(createHash('sha1').update(pkcs8).digest()),
    };
  }
  const pair = await generate('ed25519');
  const parsed = sshpk.parsePrivateKey(pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), 'pem');
  parsed.comment = name;
  const publicKey = parsed.toPublic();
  return {
    privateKey: parsed.toString('openssh'),
    publicKey: openssh(publicKey, name),
    fingerprint: sha256Fingerprint(publicKey),
  };
}

/**
 * Reads ImportKeyPair's PublicKeyMaterial (the API carries it base64-encoded; plain text is accepted too):
 * an OpenSSH public key line,
 * or the same key in PEM or RFC 4716 form. Anything else, or a weak or unknown key, is InvalidKey.Format.
 */
export function importKeyMaterial(materialBase64: string, name: string): ImportedKey {
  // A key pasted as text rather than base64 (an AWS CLI v2 `file://` with cli_binary_format raw-in-base64-out
  // unset) cannot be base64 (`-` and spaces), so it is read as given.
  const raw = /^\s*(ssh-|-----BEGIN|---- BEGIN)/.test(materialBase64);
  const text = raw ? Buffer.from(materialBase64, 'utf8') : Buffer.from(materialBase64, 'base64');
  if (text.length === 0 || text.length > limits.publicKeyBytesMax) throw invalidFormat();
  let key: sshpk.Key;
  try {
    key = sshpk.parseKey(text, 'auto');
  } catch {
    throw invalidFormat();
  }
  if (key.type === 'ed25519') {
    return { type: 'ed25519', publicKey: openssh(key, name), fingerprint: sha256Fingerprint(key) };
  }
  if (key.type !== 'rsa') throw invalidFormat('Key type is not supported: use rsa or ed25519.');
  if (key.size < rsaBitsCreated || key.size > rsaBitsImportedMax) {
    throw invalidFormat(
      `RSA keys must have ${rsaBitsCreated} to ${rsaBitsImportedMax} bits: got ${key.size}.`,
    );
  }
  const spki = createPublicKey(key.toString('pkcs8')).export({ type: 'spki', format: 'der' });
  return {
    type: 'rsa',
    publicKey: openssh(key, name),
    fingerprint: colonHex(createHash('md5').update(spki).digest()),
  };
}

function openssh(key: sshpk.Key, name: string): string {
  const line = `${key.toString('ssh').split(' ').slice(0, 2).join(' ')} ${name}`;
  assert(/^ssh-(rsa|ed25519) [A-Za-z0-9+/=]+ /.test(line), 'an OpenSSH public key line');
  return line;
}

function sha256Fingerprint(key: sshpk.Key): string {
  return createHash('sha256').update(key.toBuffer('rfc4253')).digest('base64');
}

function colonHex(digest: Buffer): string {
  assert(digest.length === 16 || digest.length === 20, 'an MD5 or SHA-1 digest');
  return [...digest].map((byte) => byte.toString(16).padStart(2, '0')).join(':');
}

function invalidFormat(detail = 'Key is not in valid OpenSSH public key format'): Error {
  return ec2Error('InvalidKey.Format', detail);
}
