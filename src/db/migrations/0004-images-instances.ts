// Images, their launch permissions, instances and block device mappings (images' and instances').
import type { Kysely } from 'kysely';

/** Creates the compute control-plane tables. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations must not depend on the evolving schema type
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('images')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('architecture', 'text', (c) => c.notNull())
    .addColumn('root_device_name', 'text', (c) => c.notNull())
    .addColumn('root_device_type', 'text', (c) => c.notNull())
    .addColumn('virtualization_type', 'text', (c) => c.notNull())
    .addColumn('boot_mode', 'text')
    .addColumn('ena_support', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('source_instance_id', 'text')
    .addColumn('creation_date', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('images_account_id').on('images').columns(['account_id', 'id']).execute();
  await db.schema
    .createTable('image_launch_permissions')
    .addColumn('image_id', 'text', (c) => c.notNull().references('images.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('grantee', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('image_launch_permissions_pk', ['image_id', 'kind', 'grantee'])
    .execute();
  await createInstanceTables(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up
async function createInstanceTables(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('instances')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
    .addColumn('reservation_id', 'text', (c) => c.notNull())
    .addColumn('image_id', 'text', (c) => c.notNull())
    .addColumn('instance_type', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('state_transition_reason', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('state_reason_code', 'text')
    .addColumn('availability_zone', 'text', (c) => c.notNull())
    .addColumn('user_data', 'text')
    .addColumn('shutdown_behavior', 'text', (c) => c.notNull())
    .addColumn('disable_api_termination', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('root_device_name', 'text', (c) => c.notNull())
    .addColumn('root_device_type', 'text', (c) => c.notNull())
    .addColumn('boot_mode', 'text', (c) => c.notNull())
    .addColumn('launch_index', 'integer', (c) => c.notNull())
    .addColumn('client_token', 'text')
    .addColumn('launch_time', 'text', (c) => c.notNull())
    .addColumn('terminated_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('instances_account_id').on('instances').columns(['account_id', 'id']).execute();
  await db.schema
    .createTable('block_device_mappings')
    .addColumn('owner_id', 'text', (c) => c.notNull())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('device_name', 'text', (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('snapshot_id', 'text')
    .addColumn('volume_id', 'text')
    .addColumn('volume_size_gib', 'integer')
    .addColumn('volume_type', 'text')
    .addColumn('iops', 'integer')
    .addColumn('throughput', 'integer')
    .addColumn('delete_on_termination', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('no_device', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('virtual_name', 'text')
    .addColumn('attachment_state', 'text')
    .addColumn('attach_time', 'text')
    .addPrimaryKeyConstraint('block_device_mappings_pk', ['owner_id', 'device_name'])
    .execute();
  await db.schema
    .createIndex('block_device_mappings_snapshot')
    .on('block_device_mappings')
    .column('snapshot_id')
    .execute();
  await db.schema
    .createIndex('block_device_mappings_volume')
    .on('block_device_mappings')
    .column('volume_id')
    .execute();
}

/** Drops what `up` made. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['block_device_mappings', 'instances', 'image_launch_permissions', 'images']) {
    await db.schema.dropTable(table).execute();
  }
}
