// The `key_pairs` table: EC2 key pairs. Only the public half is kept; CreateKeyPair hands out the private
// key once and forgets it.
import type { ColumnType } from 'kysely';

/** One key pair of one account; (account_id, name) is unique. */
export interface KeyPairsTable {
  /** `key-` + 17 hex digits. */
  id: string;
  account_id: string;
  /** EC2's KeyName: up to 255 ASCII characters. */
  name: string;
  /** rsa | ed25519. */
  key_type: string;
  /** KeyFingerprint as EC2 computes it (it differs between created and imported RSA keys). */
  fingerprint: string;
  /** The public key in OpenSSH form (`ssh-ed25519 AAAA… name`). */
  public_key: string;
  /** ISO-8601 UTC, set once. */
  created_at: ColumnType<string, string, never>;
}
