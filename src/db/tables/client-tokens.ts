// The `client_tokens` table: ClientToken idempotency for the create actions that take one.
import type { ColumnType } from 'kysely';

/** A ClientToken an account used, what it asked for, and what it made. */
export interface ClientTokensTable {
  account_id: string;
  /** The EC2 action, e.g. CreateVolume. */
  action: string;
  token: string;
  /** Digest of the request parameters; a reuse with another digest is IdempotentParameterMismatch. */
  params_digest: string;
  resource_id: string;
  created_at: ColumnType<string, string, never>;
}
