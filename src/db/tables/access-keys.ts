// The `access_keys` table: SigV4 key pairs. Secrets are stored encrypted (see cloud/common/accounts-secrets.ts).
import type { ColumnType } from 'kysely';

/** One access key of an account. */
export interface AccessKeysTable {
  /** `AKIA` + 16 uppercase letters/digits; the SigV4 credential's first component. */
  access_key_id: string;
  account_id: string;
  /** The secret, AES-256-GCM-enveloped under `<data-dir>/master.key`; never plaintext at rest. */
  secret_ciphertext: string;
  /** `Active` or `Inactive`; only active keys authenticate. */
  status: string;
  /** ISO-8601 UTC string, set once. */
  created_at: ColumnType<string, string, never>;
}
