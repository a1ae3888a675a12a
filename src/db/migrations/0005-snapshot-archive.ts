// Snapshot archive state: whether a snapshot's manifest is durable in the snapshot store, and the
// StateMessage of a snapshot whose archive failed.
import type { Kysely } from 'kysely';

/** Adds `snapshots.archived`, `snapshots.state_message` and `snapshots.restored`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations must not depend on the evolving schema type
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('snapshots')
    .addColumn('archived', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('snapshots').addColumn('state_message', 'text').execute();
  await db.schema
    .alterTable('snapshots')
    .addColumn('restored', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}
