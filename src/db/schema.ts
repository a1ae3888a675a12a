// The database schema: the `Database` type Kysely checks every query against, composed from one file per table.
//
// How to add a table (e.g. `volumes`):
//   1. Write `src/db/tables/volumes.ts` exporting `interface VolumesTable { … }`. Use `Generated<T>` for
//      columns the database fills in, `ColumnType<Select, Insert, Update>` for asymmetric ones
//      (`ColumnType<string, string, never>` for a `created_at` that is never updated).
//   2. Add `volumes: VolumesTable` to `Database` below (one line + one import).
//   3. Write the migration `src/db/migrations/NNNN-volumes.ts` (next free number) exporting
//      `up(db: Kysely<any>)` (and `down`), using only the schema builder and portable types so it runs on
//      SQLite AND PostgreSQL: 'text', 'integer', 'bigint' (see below), 'real'. Never edit a migration that
//      has shipped: add a new one.
//   4. List it in `src/db/migrations/migrations.ts` (one line, in order).
//
// Conventions shared by SQLite and PostgreSQL, so the same Kysely code runs on both:
// - Timestamps are ISO-8601 UTC strings with milliseconds (`new Date().toISOString()`, see `nowIso()`),
//   stored as `text`. They sort lexically, render directly into EC2 XML, and read back identically on both.
// - Booleans are `integer` 0/1 (SQLite has no boolean; pg would hand back true/false).
// - Sizes that fit 2^53 are `integer` (4-byte in pg: fine for GiB counts) or `bigint` for bytes; pg returns
//   `bigint` as a string, so read bigint columns through `Number(...)`.
// - Ids are `text` primary keys chosen by the application (vol-…, snap-…, 12-digit account ids).
// - Every resource table has `account_id` and every query filters on it (account isolation lives in
//   the domain services, which take `accountId` explicitly).
import type { AccountsTable } from './tables/accounts.ts';
import type { AccessKeysTable } from './tables/access-keys.ts';
import type { VolumesTable, VolumeModificationsTable } from './tables/volumes.ts';
import type { SnapshotsTable, SnapshotPermissionsTable } from './tables/snapshots.ts';
import type { TagsTable } from './tables/tags.ts';
import type { ClientTokensTable } from './tables/client-tokens.ts';
import type { EbsDirectUploadsTable, EbsDirectBlocksTable } from './tables/ebs-direct.ts';
import type { ImagesTable, ImageLaunchPermissionsTable } from './tables/images.ts';
import type { InstancesTable } from './tables/instances.ts';
import type { BlockDeviceMappingsTable } from './tables/block-device-mappings.ts';
import type { KeyPairsTable } from './tables/key-pairs.ts';
import type { AddressesTable } from './tables/addresses.ts';
import type * as Vpc from './tables/vpc-networking.ts';
import type { EbsEncryptionDefaultsTable, FastSnapshotRestoresTable } from './tables/ebs-settings.ts';

/** Every table Strata keeps, by name. */
export interface Database {
  accounts: AccountsTable;
  access_keys: AccessKeysTable;
  volumes: VolumesTable;
  volume_modifications: VolumeModificationsTable;
  snapshots: SnapshotsTable;
  snapshot_permissions: SnapshotPermissionsTable;
  tags: TagsTable;
  client_tokens: ClientTokensTable;
  ebs_direct_uploads: EbsDirectUploadsTable;
  ebs_direct_blocks: EbsDirectBlocksTable;
  images: ImagesTable;
  image_launch_permissions: ImageLaunchPermissionsTable;
  instances: InstancesTable;
  block_device_mappings: BlockDeviceMappingsTable;
  key_pairs: KeyPairsTable;
  addresses: AddressesTable;
  default_vpcs: Vpc.DefaultVpcsTable;
  vpcs: Vpc.VpcsTable;
  subnets: Vpc.SubnetsTable;
  internet_gateways: Vpc.InternetGatewaysTable;
  route_tables: Vpc.RouteTablesTable;
  security_groups: Vpc.SecurityGroupsTable;
  security_group_rules: Vpc.SecurityGroupRulesTable;
  network_interfaces: Vpc.NetworkInterfacesTable;
  network_interface_groups: Vpc.NetworkInterfaceGroupsTable;
  ebs_encryption_defaults: EbsEncryptionDefaultsTable;
  fast_snapshot_restores: FastSnapshotRestoresTable;
}

/** The current time as stored in timestamp columns (ISO-8601 UTC with milliseconds). */
export function nowIso(): string {
  return new Date().toISOString();
}
