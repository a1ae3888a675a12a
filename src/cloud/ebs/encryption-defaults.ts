// An account's EBS encryption defaults in this region (EnableEbsEncryptionByDefault, ModifyEbsDefaultKmsKeyId)
// and the key an encrypted volume or snapshot reports. Strata has no KMS: keys are names only, and volume data
// is NOT encrypted at rest (docs/ec2-volumes.md says so). What is kept is the API's behaviour: with encryption
// by default on, new volumes are marked encrypted, and `Encrypted` without `KmsKeyId` reports the default key.
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { ec2Error } from '../errors.ts';

/** An account's settings as the Get actions answer them. */
export interface EncryptionDefaults {
  readonly encryptionByDefault: boolean;
  /** The default key as an ARN: the AWS-managed `alias/aws/ebs` until ModifyEbsDefaultKmsKeyId. */
  readonly kmsKeyArn: string;
}

/** What the new volume or snapshot records. */
export interface ResolvedEncryption {
  readonly encrypted: boolean;
  readonly kmsKeyId: string | null;
}

// A KMS key id (UUID), an alias name, or the ARN of either.
const keyReference =
  /^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key\/[\w-]+|alias\/[\w/-]+)|[0-9a-f-]{36}|alias\/[\w/-]+)$/;

/** The defaults of every account in one region; one writer of `ebs_encryption_defaults`. */
export class EbsEncryptionDefaults {
  readonly #db: Kysely<Database>;
  readonly #region: string;

  constructor(db: Kysely<Database>, region: string) {
    this.#db = db;
    this.#region = region;
  }

  /** GetEbsEncryptionByDefault and GetEbsDefaultKmsKeyId. */
  async get(accountId: string): Promise<EncryptionDefaults> {
    const row = await this.#db
      .selectFrom('ebs_encryption_defaults')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('region', '=', this.#region)
      .executeTakeFirst();
    return {
      encryptionByDefault: row?.encryption_by_default === 1,
      kmsKeyArn: row?.kms_key_id ?? this.#arn(accountId, 'alias/aws/ebs'),
    };
  }

  /** Enable/DisableEbsEncryptionByDefault. */
  async setEncryptionByDefault(accountId: string, on: boolean): Promise<void> {
    await this.#upsert(accountId, { encryption_by_default: on ? 1 : 0 });
  }

  /** ModifyEbsDefaultKmsKeyId (`key` as id, alias or ARN; null resets); returns the key's ARN. */
  async setKey(accountId: string, key: string | null): Promise<string> {
    const arn = key === null ? null : this.keyArn(accountId, key);
    await this.#upsert(accountId, { kms_key_id: arn });
    return arn ?? this.#arn(accountId, 'alias/aws/ebs');
  }

  /** `key` (id, alias or ARN) as an ARN in this account and region; InvalidParameterValue when it is none. */
  keyArn(accountId: string, key: string): string {
    if (!keyReference.test(key))
      throw ec2Error('InvalidParameterValue', `Invalid KMS key: ${key} is no key id, alias or ARN.`);
    if (key.startsWith('arn:')) return key;
    return this.#arn(accountId, key.startsWith('alias/') ? key : `key/${key}`);
  }

  /**
   * The encryption a new volume or snapshot records: `asked` (Encrypted, or the source's encryption), the
   * account's encryption by default, and the key: `kmsKeyId` as given, else the default key. An encrypted
   * resource reports a key ARN, so the AWS-managed alias becomes that account's stable `key/…` ARN.
   */
  async resolve(
    accountId: string,
    asked: boolean,
    kmsKeyId: string | undefined,
  ): Promise<ResolvedEncryption> {
    const defaults = await this.get(accountId);
    const encrypted = asked || defaults.encryptionByDefault;
    if (!encrypted) return { encrypted, kmsKeyId: null };
    if (kmsKeyId !== undefined) return { encrypted, kmsKeyId };
    const managed = defaults.kmsKeyArn === this.#arn(accountId, 'alias/aws/ebs');
    return { encrypted, kmsKeyId: managed ? this.#managedKeyArn(accountId) : defaults.kmsKeyArn };
  }

  async #upsert(
    accountId: string,
    set: { encryption_by_default?: number; kms_key_id?: string | null },
  ): Promise<void> {
    await this.#db
      .insertInto('ebs_encryption_defaults')
      .values({
        account_id: accountId,
        region: this.#region,
        encryption_by_default: 0,
        kms_key_id: null,
        ...set,
      })
      .onConflict((oc) => oc.columns(['account_id', 'region']).doUpdateSet(set))
      .execute();
  }

  #arn(accountId: string, resource: string): string {
    return `arn:aws:kms:${this.#region}:${accountId}:${resource}`;
  }

  // AWS makes one managed key per account and region; derive its id so it is the same on every call and host.
  #managedKeyArn(accountId: string): string {
    const hex = createHash('sha256').update(`aws/ebs:${accountId}:${this.#region}`).digest('hex');
    const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
    return this.#arn(accountId, `key/${uuid}`);
  }
}
