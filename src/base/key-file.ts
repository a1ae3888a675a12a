// Small secret keys kept in the data dir (master key, token keys): created once, 0600, base64 on one line.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

/** Length of every key Strata keeps in a key file: 256 bits. */
export const keyFileBytes = 32;

/** Loads the key at `path`, creating it (random, mode 0600) when absent; throws if the file is malformed. */
export function loadOrCreateKeyFile(path: string): Buffer {
  if (!existsSync(path)) {
    writeFileSync(path, `${randomBytes(keyFileBytes).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  }
  chmodSync(path, 0o600);
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
  if (key.length !== keyFileBytes) throw new Error(`${path} does not hold a 256-bit base64 key`);
  return key;
}
