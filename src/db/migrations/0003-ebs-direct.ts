// EBS direct uploads (StartSnapshot … CompleteSnapshot) and the checksums of their written blocks.
import type { Kysely } from 'kysely';

/** Creates the EBS direct tables. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations must not depend on the evolving schema type
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('ebs_direct_uploads')
    .addColumn('snapshot_id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('volume_id', 'text', (c) => c.notNull())
    .addColumn('parent_snapshot_id', 'text')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('deadline', 'text', (c) => c.notNull())
    .addColumn('client_token', 'text')
    .addColumn('request_digest', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('ebs_direct_uploads_token')
    .on('ebs_direct_uploads')
    .columns(['account_id', 'client_token'])
    .execute();
  await db.schema
    .createTable('ebs_direct_blocks')
    .addColumn('snapshot_id', 'text', (c) => c.notNull())
    .addColumn('block_index', 'integer', (c) => c.notNull())
    .addColumn('checksum', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('ebs_direct_blocks_pk', ['snapshot_id', 'block_index'])
    .execute();
}

/** Drops the EBS direct tables. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('ebs_direct_blocks').execute();
  await db.schema.dropTable('ebs_direct_uploads').execute();
}
