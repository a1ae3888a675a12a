// The one writer of a snapshot's state. Every change of `snapshots.state` goes through `transitionSnapshot`,
// from the states it may leave to the state it enters (progress-only updates of a `pending` snapshot are not
// state changes and stay with their writers).
//
//   pending ──sealed (and archived, with --snapshot-store)──▶ completed ──DeleteSnapshot──▶ deleting ──▶ gone
//   any ──a background step failed──▶ error;  error ──an EBS direct upload resumed──▶ pending
import type { Kysely, Transaction, Updateable } from 'kysely';
import { assert } from '../../base/assert.ts';
import type { Database } from '../../db/schema.ts';
import type { SnapshotsTable } from '../../db/tables/snapshots.ts';

/** The states of a snapshot, as EC2 names them. */
export const snapshotStates = ['pending', 'completed', 'error', 'deleting'] as const;

/** One snapshot state. */
export type SnapshotState = (typeof snapshotStates)[number];

/** Columns that change together with the state (progress, archived, state message). */
export type SnapshotStateChange = Omit<Updateable<SnapshotsTable>, 'state' | 'id'>;

/** Moves snapshot `snapshotId` to `to` (with `changes`) if it is in one of `from`; true when it moved. */
export async function transitionSnapshot(
  db: Kysely<Database> | Transaction<Database>,
  snapshotId: string,
  from: readonly SnapshotState[],
  to: SnapshotState,
  changes: SnapshotStateChange = {},
): Promise<boolean> {
  assert(from.length > 0, 'a transition leaves at least one state');
  const result = await db
    .updateTable('snapshots')
    .set({ ...changes, state: to })
    .where('id', '=', snapshotId)
    .where('state', 'in', from)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}
