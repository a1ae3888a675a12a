// Key pairs, Elastic IP addresses, and the instance columns for its launch key, its public address and its
// metadata options (EC2's InstanceMetadataOptions; defaults as EC2 for an AMI without ImdsSupport).
import type { Kysely } from 'kysely';

/** Creates key_pairs and addresses and adds the instance columns. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations must not depend on the evolving schema type
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('key_pairs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('key_type', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('key_pairs_account_name', ['account_id', 'name'])
    .execute();
  await db.schema
    .createTable('addresses')
    .addColumn('allocation_id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
    .addColumn('public_ip', 'text', (c) => c.notNull().unique())
    .addColumn('domain', 'text', (c) => c.notNull())
    .addColumn('association_id', 'text')
    .addColumn('instance_id', 'text')
    .addColumn('network_interface_id', 'text')
    .addColumn('private_ip', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await addInstanceColumns(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up
async function addInstanceColumns(db: Kysely<any>): Promise<void> {
  const add = (name: string, type: 'text' | 'integer', defaultValue?: string | number) =>
    db.schema
      .alterTable('instances')
      .addColumn(name, type, (c) => (defaultValue === undefined ? c : c.notNull().defaultTo(defaultValue)))
      .execute();
  await add('key_name', 'text');
  await add('key_public_key', 'text');
  await add('public_ip', 'text');
  await add('public_dns_name', 'text');
  await add('metadata_http_tokens', 'text', 'optional');
  await add('metadata_http_endpoint', 'text', 'enabled');
  await add('metadata_hop_limit', 'integer', 1);
  await add('metadata_tags', 'text', 'disabled');
  // Two instances never share a public address (NULLs do not collide, on SQLite as on PostgreSQL).
  await db.schema.createIndex('instances_public_ip').on('instances').column('public_ip').unique().execute();
}

/** Drops what `up` made. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('instances_public_ip').execute();
  for (const column of [
    'key_name',
    'key_public_key',
    'public_ip',
    'public_dns_name',
    'metadata_http_tokens',
    'metadata_http_endpoint',
    'metadata_hop_limit',
    'metadata_tags',
  ])
    await db.schema.alterTable('instances').dropColumn(column).execute();
  await db.schema.dropTable('addresses').execute();
  await db.schema.dropTable('key_pairs').execute();
}
