// EC2 key pairs: CreateKeyPair, ImportKeyPair, DescribeKeyPairs, DeleteKeyPair, and the launch key
// RunInstances records. Only public keys are kept; a created private key is returned once.
import type { Kysely, Selectable } from 'kysely';
import { assert } from '../../base/assert.ts';
import { isValidId, newId } from '../../base/ids.ts';
import { limits } from '../../base/limits.ts';
import type { Database } from '../../db/schema.ts';
import { nowIso } from '../../db/schema.ts';
import type { KeyPairsTable } from '../../db/tables/key-pairs.ts';
import { CloudError, ec2Error } from '../errors.ts';
import { compileFilters, type Filter, type FilterFields } from '../common/filters.ts';
import { tagsForResource, type TagService, type TagSpecification } from '../common/tags.ts';
import type { DryRunCheck } from '../common/dry-run.ts';
import { createKeyMaterial, importKeyMaterial, type KeyType } from './key-material.ts';

/** A key pair row as read. */
export type KeyPairRow = Selectable<KeyPairsTable>;

/** A key pair with its tags. */
export interface KeyPair {
  readonly row: KeyPairRow;
  readonly tags: ReadonlyMap<string, string>;
}

/** CreateKeyPair's parameters. */
export interface CreateKeyPairRequest {
  readonly name: string | undefined;
  readonly keyType: string | undefined;
  readonly keyFormat: string | undefined;
  readonly tagSpecifications: readonly TagSpecification[];
  readonly dryRun: DryRunCheck;
}

/** ImportKeyPair's parameters. */
export interface ImportKeyPairRequest {
  readonly name: string | undefined;
  /** Base64 of the public key text, as the API carries PublicKeyMaterial. */
  readonly material: string | undefined;
  readonly tagSpecifications: readonly TagSpecification[];
  readonly dryRun: DryRunCheck;
}

/** DescribeKeyPairs' parameters. */
export interface DescribeKeyPairsRequest {
  readonly names: readonly string[];
  readonly ids: readonly string[];
  readonly filters: readonly Filter[];
}

/** The key a RunInstances launch records: its name and OpenSSH public key. */
export interface LaunchKey {
  readonly name: string;
  readonly publicKey: string;
}

const keyPairFields: FilterFields<KeyPair> = {
  'key-name': (k) => k.row.name,
  'key-pair-id': (k) => k.row.id,
  fingerprint: (k) => k.row.fingerprint,
  'key-type': (k) => k.row.key_type,
};

/** Key pairs of every account; every method takes the caller's account id. */
export class KeyPairService {
  readonly #db: Kysely<Database>;
  readonly #tags: TagService;

  constructor(db: Kysely<Database>, tags: TagService) {
    this.#db = db;
    this.#tags = tags;
    tags.registerKind({
      prefix: 'key',
      resourceType: 'key-pair',
      notFound: 'InvalidKeyPair.NotFound',
      access: async (accountId, id) =>
        (await this.#byIds(accountId, [id])).length > 0 ? 'owned' : 'missing',
    });
  }

  /** CreateKeyPair: a new key pair; the private key is in the answer and nowhere else. */
  async create(accountId: string, request: CreateKeyPairRequest): Promise<KeyPair & { privateKey: string }> {
    const name = checkName(request.name);
    const type = keyTypeOf(request.keyType);
    if (request.keyFormat !== undefined && request.keyFormat !== 'pem') {
      if (request.keyFormat !== 'ppk') throw invalidValue('KeyFormat', request.keyFormat, 'pem or ppk');
      throw ec2Error(
        'UnsupportedOperation',
        'KeyFormat ppk is not supported by Strata: create the key pair as pem and convert it with puttygen.',
      );
    }
    const tags = tagsForResource(request.tagSpecifications, 'key-pair');
    await this.#requireNew(accountId, name);
    request.dryRun();
    const material = await createKeyMaterial(type, name);
    const row = await this.#insert(accountId, name, type, material.publicKey, material.fingerprint, tags);
    return { ...row, privateKey: material.privateKey };
  }

  /** ImportKeyPair: records a public key the caller made. */
  async import(accountId: string, request: ImportKeyPairRequest): Promise<KeyPair> {
    const name = checkName(request.name);
    if (request.material === undefined || request.material === '')
      throw new CloudError('MissingParameter', { name: 'PublicKeyMaterial' });
    const tags = tagsForResource(request.tagSpecifications, 'key-pair');
    const key = importKeyMaterial(request.material, name);
    await this.#requireNew(accountId, name);
    request.dryRun();
    return this.#insert(accountId, name, key.type, key.publicKey, key.fingerprint, tags);
  }

  async #requireNew(accountId: string, name: string): Promise<void> {
    const existing = await this.#db
      .selectFrom('key_pairs')
      .select(({ fn }) => fn.countAll<number | string>().as('count'))
      .where('account_id', '=', accountId)
      .executeTakeFirstOrThrow();
    if ((await this.#byNames(accountId, [name])).length > 0)
      throw new CloudError('InvalidKeyPair.Duplicate', { name });
    if (Number(existing.count) >= limits.keyPairsPerAccountMax) {
      throw ec2Error(
        'ResourceLimitExceeded',
        `You have reached the limit of ${limits.keyPairsPerAccountMax} key pairs in this region.`,
      );
    }
  }

  async #insert(
    accountId: string,
    name: string,
    type: KeyType,
    publicKey: string,
    fingerprint: string,
    tags: ReturnType<typeof tagsForResource>,
  ): Promise<KeyPair> {
    const row: KeyPairRow = {
      id: newId('key'),
      account_id: accountId,
      name,
      key_type: type,
      fingerprint,
      public_key: publicKey,
      created_at: nowIso(),
    };
    await this.#db.transaction().execute(async (trx) => {
      await trx.insertInto('key_pairs').values(row).execute();
      await this.#tags.putTags(trx, accountId, row.id, 'key-pair', tags);
    });
    return { row, tags: new Map(tags.map((t) => [t.key, t.value])) };
  }

  /** DescribeKeyPairs: by names, ids and filters; a named or id'd key pair that is missing is NotFound. */
  async describe(accountId: string, request: DescribeKeyPairsRequest): Promise<KeyPair[]> {
    for (const id of request.ids)
      if (!isValidId(id, 'key')) throw new CloudError('InvalidKeyPair.NotFound', { id });
    let query = this.#db
      .selectFrom('key_pairs')
      .selectAll()
      .where('account_id', '=', accountId)
      .orderBy('name');
    if (request.names.length > 0) query = query.where('name', 'in', request.names);
    if (request.ids.length > 0) query = query.where('id', 'in', request.ids);
    const rows = await query.execute();
    const missing = [
      ...request.names.filter((name) => !rows.some((r) => r.name === name)),
      ...request.ids.filter((id) => !rows.some((r) => r.id === id)),
    ];
    if (missing.length > 0) throw new CloudError('InvalidKeyPair.NotFound', { id: missing.join(', ') });
    const tags = await this.#tags.tagsOf(
      accountId,
      rows.map((r) => r.id),
    );
    const keep = compileFilters(request.filters, keyPairFields, (k) => k.tags);
    return rows.map((row) => ({ row, tags: tags.get(row.id) ?? new Map<string, string>() })).filter(keep);
  }

  /** DeleteKeyPair by name or id; a key pair that does not exist is deleted already, as EC2 answers. */
  async delete(
    accountId: string,
    name: string | undefined,
    id: string | undefined,
    dryRun: DryRunCheck,
  ): Promise<string | undefined> {
    if ((name ?? '') === '' && (id ?? '') === '')
      throw new CloudError('MissingParameter', { name: 'KeyName' });
    if (id !== undefined && id !== '' && !isValidId(id, 'key'))
      throw new CloudError('InvalidKeyPair.NotFound', { id });
    dryRun();
    const rows =
      id !== undefined && id !== ''
        ? await this.#byIds(accountId, [id])
        : await this.#byNames(accountId, [name as string]);
    const row = rows[0];
    if (row === undefined) return undefined;
    await this.#db.transaction().execute(async (trx) => {
      await trx.deleteFrom('key_pairs').where('id', '=', row.id).execute();
      await this.#tags.dropAll(trx, row.id);
    });
    return row.id;
  }

  /** The launch key named `name` (RunInstances KeyName), or InvalidKeyPair.NotFound. */
  async launchKey(accountId: string, name: string): Promise<LaunchKey> {
    const [row] = await this.#byNames(accountId, [name]);
    if (row === undefined) throw new CloudError('InvalidKeyPair.NotFound', { id: name });
    assert(row.public_key.startsWith('ssh-'), 'a stored key pair has an OpenSSH public key');
    return { name: row.name, publicKey: row.public_key };
  }

  #byNames(accountId: string, names: readonly string[]): Promise<KeyPairRow[]> {
    return this.#select(accountId, 'name', names);
  }

  #byIds(accountId: string, ids: readonly string[]): Promise<KeyPairRow[]> {
    return this.#select(accountId, 'id', ids);
  }

  #select(accountId: string, column: 'name' | 'id', values: readonly string[]): Promise<KeyPairRow[]> {
    return this.#db
      .selectFrom('key_pairs')
      .selectAll()
      .where('account_id', '=', accountId)
      .where(column, 'in', values)
      .execute();
  }
}

// EC2: up to 255 ASCII characters.
function checkName(name: string | undefined): string {
  if (name === undefined || name === '') throw new CloudError('MissingParameter', { name: 'KeyName' });
  if (name.length > 255 || !/^[\x20-\x7e]+$/.test(name)) {
    throw invalidValue('KeyName', name, 'up to 255 printable ASCII characters');
  }
  return name;
}

function keyTypeOf(value: string | undefined): KeyType {
  if (value === undefined || value === 'rsa') return 'rsa';
  if (value === 'ed25519') return 'ed25519';
  throw invalidValue('KeyType', value, 'rsa or ed25519');
}

function invalidValue(name: string, value: string, expected: string): CloudError {
  return new CloudError('InvalidParameterValue', { name, value, expected });
}
