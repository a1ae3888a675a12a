// The `addresses` table: Elastic IP addresses. An instance's current public address, Elastic or
// auto-assigned, is in instances.public_ip (cloud/addresses/addresses.ts writes both).
import type { ColumnType } from 'kysely';

/** One Elastic IP of one account; public_ip is unique across accounts. */
export interface AddressesTable {
  /** `eipalloc-` + 17 hex digits. */
  allocation_id: string;
  account_id: string;
  /** An address of the Elastic range (cloud/addresses/public-addresses.ts). */
  public_ip: string;
  /** vpc (the only domain Strata has). */
  domain: string;
  /** `eipassoc-…` while associated, else null. */
  association_id: string | null;
  instance_id: string | null;
  network_interface_id: string | null;
  private_ip: string | null;
  /** ISO-8601 UTC, set once. */
  created_at: ColumnType<string, string, never>;
}
