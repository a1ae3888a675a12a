// EC2 details clients read back (issue 17): instance launch options and attributes, the account's EBS
// encryption defaults, and fast snapshot restore per snapshot and zone.
import type { Kysely } from 'kysely';

/** Adds instance columns and the `ebs_encryption_defaults` and `fast_snapshot_restores` tables. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations must not depend on the evolving schema type
export async function up(db: Kysely<any>): Promise<void> {
  const columns = [
    ['monitoring_state', 'text', 'disabled'],
    ['tenancy', 'text', 'default'],
    ['ebs_optimized', 'integer', 0],
    ['source_dest_check', 'integer', 1],
    ['disable_api_stop', 'integer', 0],
  ] as const;
  for (const [name, type, value] of columns) {
    await db.schema
      .alterTable('instances')
      .addColumn(name, type, (c) => c.notNull().defaultTo(value))
      .execute();
  }
  await db.schema
    .createTable('ebs_encryption_defaults')
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('region', 'text', (c) => c.notNull())
    .addColumn('encryption_by_default', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('kms_key_id', 'text')
    .addPrimaryKeyConstraint('ebs_encryption_defaults_pk', ['account_id', 'region'])
    .execute();
  await db.schema
    .createTable('fast_snapshot_restores')
    .addColumn('snapshot_id', 'text', (c) => c.notNull())
    .addColumn('availability_zone', 'text', (c) => c.notNull())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('enabling_time', 'text', (c) => c.notNull())
    .addColumn('enabled_time', 'text')
    .addPrimaryKeyConstraint('fast_snapshot_restores_pk', ['snapshot_id', 'availability_zone'])
    .execute();
  await db.schema
    .createIndex('fast_snapshot_restores_account')
    .on('fast_snapshot_restores')
    .column('account_id')
    .execute();
}
