// Who may use NBD over TCP: one TLS identity per account (its 12-digit id), authenticated by a pre-shared
// key derived from `<data-dir>/master.key` or by a client certificate whose CN is the account id, and
// authorised for that account's own volumes and snapshots.
//
// The PSK is HMAC-SHA256(HMAC-SHA256(master key, label), account id): nothing new is stored, every host of a
// region (which share master.key) accepts the same key, and a PSK file reveals nothing about other accounts.
// Rotating a PSK means rotating master.key.
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { assert } from '../base/assert.ts';
import type { Database } from '../db/schema.ts';
import type { NbdAuthorizer, NbdTcpTls } from '../nbd/nbd-server.ts';

const PSK_LABEL = 'strata nbd tls-psk v1';
const ACCOUNT_ID = /^\d{12}$/;
/** The files `--nbd-tls-x509 DIR` reads: the layout qemu's tls-creds-x509 and nbdkit use. */
export const x509Files = { ca: 'ca-cert.pem', cert: 'server-cert.pem', key: 'server-key.pem' } as const;

/** Derives account PSKs from the master key; holds only the derived root, never the master key itself. */
export class NbdPskKeys {
  readonly #root: Buffer;

  constructor(masterKey: Buffer) {
    assert(masterKey.length === 32, 'NbdPskKeys: master key must be 32 bytes');
    this.#root = createHmac('sha256', masterKey).update(PSK_LABEL).digest();
  }

  /** The PSK of account `accountId`, or null when the identity is not an account id. */
  keyFor(identity: string): Buffer | null {
    if (!ACCOUNT_ID.test(identity)) return null;
    const key = createHmac('sha256', this.#root).update(identity).digest();
    assert(key.length === 32, 'derived PSK must be 32 bytes');
    return key;
  }

  /** One line of a gnutls PSK file (`identity:hex`), which libnbd's tls-psk-file and qemu's keys.psk read. */
  pskFileLine(accountId: string): string {
    const key = this.keyFor(accountId);
    assert(key !== null, `pskFileLine: ${accountId} is not an account id`);
    return `${accountId}:${key.toString('hex')}\n`;
  }
}

/** The devices an account may open over NBD: its own volumes and snapshots. */
export function accountDevices(db: Kysely<Database>): NbdAuthorizer {
  return async (identity) => {
    if (!ACCOUNT_ID.test(identity)) return new Set();
    const [volumes, snapshots] = await Promise.all([
      db.selectFrom('volumes').select('id').where('account_id', '=', identity).execute(),
      db.selectFrom('snapshots').select('id').where('account_id', '=', identity).execute(),
    ]);
    return new Set([...volumes, ...snapshots].map((row) => row.id));
  };
}

/**
 * The TCP listener's TLS: PSKs always, plus certificates when `x509Dir` is given. Throws a message naming
 * the missing file when the directory lacks one.
 */
export function nbdTcpTls(db: Kysely<Database>, psk: NbdPskKeys, x509Dir?: string): NbdTcpTls {
  const tls: NbdTcpTls = { pskFor: (identity) => psk.keyFor(identity), authorize: accountDevices(db) };
  if (x509Dir === undefined) return tls;
  const read = (name: string): string => {
    const path = join(x509Dir, name);
    if (!existsSync(path)) throw new Error(`--nbd-tls-x509 ${x509Dir}: ${name} is missing`);
    return readFileSync(path, 'utf8');
  };
  return {
    ...tls,
    x509: { ca: read(x509Files.ca), cert: read(x509Files.cert), key: read(x509Files.key) },
  };
}
