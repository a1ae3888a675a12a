// The `accounts` table: one row per tenant. Every resource row carries `account_id` pointing here.
import type { ColumnType } from 'kysely';

/** An account: a tenant whose resources no other account can see. */
export interface AccountsTable {
  /** 12 decimal digits, like an AWS account id. */
  id: string;
  /** Unique, human-chosen name (`admin` for the first account). */
  name: string;
  /** 1 for the account created on first start; 0 otherwise (booleans are 0/1 in both dialects). */
  is_admin: number;
  /** ISO-8601 UTC string, set once. */
  created_at: ColumnType<string, string, never>;
}
