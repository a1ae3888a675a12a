// Accounts and their access keys: the tenants of Strata. Every resource belongs to one account, and the
// domain services take `accountId` explicitly on every call, so isolation is visible at each query.
//
// Usage:
//   const accounts = new Accounts(db, SecretBox.openOrCreate(join(dataDir, 'master.key')));
//   const { account, key } = await accounts.create('alice');       // key.secretAccessKey shown once
//   const found = await accounts.lookupKey('AKIA…');                 // SigV4: secret + accountId
import { randomBytes, randomInt } from 'node:crypto';
import type { Kysely } from 'kysely';
import { assert } from '../../base/assert.ts';
import type { Database } from '../../db/schema.ts';
import { nowIso } from '../../db/schema.ts';
import type { SecretBox } from './accounts-secrets.ts';

/** An account as the rest of Strata sees it. */
export interface Account {
  /** 12 decimal digits. */
  readonly id: string;
  readonly name: string;
  readonly isAdmin: boolean;
  readonly createdAt: string;
}

/** An access key pair; the secret is plaintext only in memory. */
export interface AccessKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly accountId: string;
}

/** Keys a caller may impose (the admin keys from STRATA_ADMIN_*), instead of generated ones. */
export interface KeyPair {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** Thrown for a bad account name or key, or a name already taken (CLI input errors, not bugs). */
export class AccountError extends Error {
  override readonly name = 'AccountError';
}

const accessKeyIdPattern = /^[A-Z0-9]{16,128}$/;
const accountNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const keyAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** The account store. */
export class Accounts {
  readonly #db: Kysely<Database>;
  readonly #secrets: SecretBox;

  constructor(db: Kysely<Database>, secrets: SecretBox) {
    this.#db = db;
    this.#secrets = secrets;
  }

  /** Creates account `name` with one access key (`keys`, or freshly generated). */
  async create(
    name: string,
    options: { keys?: KeyPair; isAdmin?: boolean } = {},
  ): Promise<{ account: Account; key: AccessKey }> {
    if (!accountNamePattern.test(name)) {
      throw new AccountError(
        `account name must match ${accountNamePattern.source}: got ${JSON.stringify(name)}`,
      );
    }
    const keys = options.keys ?? generateKeyPair();
    checkKeyPair(keys);
    const account: Account = {
      id: newAccountId(),
      name,
      isAdmin: options.isAdmin ?? false,
      createdAt: nowIso(),
    };
    await this.#db.transaction().execute(async (trx) => {
      const taken = await trx.selectFrom('accounts').select('id').where('name', '=', name).executeTakeFirst();
      if (taken !== undefined) throw new AccountError(`account ${name} already exists`);
      const keyTaken = await trx
        .selectFrom('access_keys')
        .select('account_id')
        .where('access_key_id', '=', keys.accessKeyId)
        .executeTakeFirst();
      if (keyTaken !== undefined) throw new AccountError(`access key ${keys.accessKeyId} is already in use`);
      await trx
        .insertInto('accounts')
        .values({ id: account.id, name, is_admin: account.isAdmin ? 1 : 0, created_at: account.createdAt })
        .execute();
      await trx
        .insertInto('access_keys')
        .values({
          access_key_id: keys.accessKeyId,
          account_id: account.id,
          secret_ciphertext: this.#secrets.seal(keys.secretAccessKey, keys.accessKeyId),
          status: 'Active',
          created_at: account.createdAt,
        })
        .execute();
    });
    return { account, key: { ...keys, accountId: account.id } };
  }

  /** Every account, oldest first. */
  async list(): Promise<Account[]> {
    const rows = await this.#db
      .selectFrom('accounts')
      .selectAll()
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toAccount);
  }

  /** The account named `name`, or undefined. */
  async byName(name: string): Promise<Account | undefined> {
    const row = await this.#db.selectFrom('accounts').selectAll().where('name', '=', name).executeTakeFirst();
    return row === undefined ? undefined : toAccount(row);
  }

  /** The active key `accessKeyId` with its secret and account, or undefined (unknown or inactive). */
  async lookupKey(accessKeyId: string): Promise<AccessKey | undefined> {
    const row = await this.#db
      .selectFrom('access_keys')
      .select(['account_id', 'secret_ciphertext'])
      .where('access_key_id', '=', accessKeyId)
      .where('status', '=', 'Active')
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const secretAccessKey = this.#secrets.open(row.secret_ciphertext, accessKeyId);
    return { accessKeyId, secretAccessKey, accountId: row.account_id };
  }

  /** The first active key of account `accountId` (for writing the admin's credentials file). */
  async firstKey(accountId: string): Promise<AccessKey | undefined> {
    const row = await this.#db
      .selectFrom('access_keys')
      .select('access_key_id')
      .where('account_id', '=', accountId)
      .where('status', '=', 'Active')
      .orderBy('created_at')
      .orderBy('access_key_id')
      .executeTakeFirst();
    return row === undefined ? undefined : this.lookupKey(row.access_key_id);
  }

  /**
   * Makes sure an admin account exists: on first start (no accounts at all) creates `admin` with `keys` or
   * generated ones. Returns the admin account and its key either way.
   */
  async ensureAdmin(keys?: KeyPair): Promise<{ account: Account; key: AccessKey; created: boolean }> {
    const admin = (await this.list()).find((account) => account.isAdmin);
    if (admin !== undefined) {
      const key = await this.firstKey(admin.id);
      if (key === undefined) throw new AccountError(`admin account ${admin.id} has no active access key`);
      return { account: admin, key, created: false };
    }
    const created = await this.create('admin', { keys, isAdmin: true });
    return { ...created, created: true };
  }
}

function toAccount(row: { id: string; name: string; is_admin: number; created_at: string }): Account {
  return { id: row.id, name: row.name, isAdmin: Number(row.is_admin) === 1, createdAt: row.created_at };
}

/** A fresh 12-digit account id (leading digit non-zero, so it never loses a digit as a number). */
export function newAccountId(): string {
  const id = `${randomInt(1, 10)}${String(randomInt(0, 1e11)).padStart(11, '0')}`;
  assert(/^\d{12}$/.test(id), 'account id must be 12 digits');
  return id;
}

/** A fresh key pair shaped like AWS's: `AKIA` + 16 base32 characters, and a 40-character secret. */
export function generateKeyPair(): KeyPair {
  const bytes = randomBytes(16);
  const accessKeyId = `AKIA${[...bytes].map((byte) => keyAlphabet[byte % 32]).join('')}`;
  const secretAccessKey = randomBytes(30).toString('base64').replace(/\+/g, 'a').replace(/\//g, 'b');
  assert(accessKeyId.length === 20 && secretAccessKey.length === 40, 'generated key has the wrong shape');
  return { accessKeyId, secretAccessKey };
}

function checkKeyPair(keys: KeyPair): void {
  if (!accessKeyIdPattern.test(keys.accessKeyId)) {
    throw new AccountError(
      `access key id must be 16+ uppercase letters/digits: got ${JSON.stringify(keys.accessKeyId)}`,
    );
  }
  if (keys.secretAccessKey.length < 16 || /\s/.test(keys.secretAccessKey)) {
    throw new AccountError('secret access key must be at least 16 characters without spaces');
  }
}
