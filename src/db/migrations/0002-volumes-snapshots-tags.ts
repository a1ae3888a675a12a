// Volumes, volume modifications, snapshots, snapshot permissions, tags and client tokens.
import type { Kysely } from 'kysely';

/** Creates the EBS control-plane tables. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations must not depend on the evolving schema type
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('volumes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
    .addColumn('availability_zone', 'text', (c) => c.notNull())
    .addColumn('size_gib', 'integer', (c) => c.notNull())
    .addColumn('snapshot_id', 'text')
    .addColumn('volume_type', 'text', (c) => c.notNull())
    .addColumn('iops', 'integer')
    .addColumn('throughput', 'integer')
    .addColumn('encrypted', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('kms_key_id', 'text')
    .addColumn('multi_attach_enabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('auto_enable_io', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('create_time', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('volumes_account_id').on('volumes').columns(['account_id', 'id']).execute();
  await db.schema
    .createTable('volume_modifications')
    .addColumn('volume_id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('status_message', 'text')
    .addColumn('progress', 'integer', (c) => c.notNull())
    .addColumn('start_time', 'text', (c) => c.notNull())
    .addColumn('end_time', 'text')
    .addColumn('original_size_gib', 'integer', (c) => c.notNull())
    .addColumn('original_volume_type', 'text', (c) => c.notNull())
    .addColumn('original_iops', 'integer')
    .addColumn('original_throughput', 'integer')
    .addColumn('original_multi_attach_enabled', 'integer', (c) => c.notNull())
    .addColumn('target_size_gib', 'integer', (c) => c.notNull())
    .addColumn('target_volume_type', 'text', (c) => c.notNull())
    .addColumn('target_iops', 'integer')
    .addColumn('target_throughput', 'integer')
    .addColumn('target_multi_attach_enabled', 'integer', (c) => c.notNull())
    .execute();
  await createSnapshotTables(db);
  await createTagTables(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up
async function createSnapshotTables(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('snapshots')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
    .addColumn('volume_id', 'text', (c) => c.notNull())
    .addColumn('volume_size_gib', 'integer', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('progress', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('encrypted', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('kms_key_id', 'text')
    .addColumn('source_snapshot_id', 'text')
    .addColumn('start_time', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('snapshots_account_id').on('snapshots').columns(['account_id', 'id']).execute();
  await db.schema
    .createTable('snapshot_permissions')
    .addColumn('snapshot_id', 'text', (c) => c.notNull().references('snapshots.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('grantee', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('snapshot_permissions_pk', ['snapshot_id', 'kind', 'grantee'])
    .execute();
  await db.schema
    .createIndex('snapshot_permissions_grantee')
    .on('snapshot_permissions')
    .column('grantee')
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up
async function createTagTables(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('tags')
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('resource_id', 'text', (c) => c.notNull())
    .addColumn('resource_type', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('tags_pk', ['resource_id', 'key'])
    .execute();
  await db.schema.createIndex('tags_account_id').on('tags').columns(['account_id', 'resource_id']).execute();
  await db.schema
    .createTable('client_tokens')
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('token', 'text', (c) => c.notNull())
    .addColumn('params_digest', 'text', (c) => c.notNull())
    .addColumn('resource_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('client_tokens_pk', ['account_id', 'action', 'token'])
    .execute();
}

/** Drops what `up` made. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'client_tokens',
    'tags',
    'snapshot_permissions',
    'snapshots',
    'volume_modifications',
    'volumes',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
