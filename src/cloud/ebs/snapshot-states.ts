// The one writer of a snapshot row once it exists. Every change of `snapshots.state` goes through
// `transitionSnapshot`, from the states it may leave to the state it enters; progress-only updates (not state
// changes) through `recordSnapshotProgress`, and the archive's restored flag through `markSnapshotRestored`.
// ebs/snapshots.ts, ebs/snapshot-archive.ts (imports) and ebs-direct/uploads.ts insert rows; snapshots.ts
// deletes them.
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

/** Records `progress` (percent) of snapshot `snapshotId` while it is in one of `states`; no state change. */
export async function recordSnapshotProgress(
  db: Kysely<Database> | Transaction<Database>,
  snapshotId: string,
  progress: number,
  states: readonly SnapshotState[] = ['pending'],
): Promise<void> {
  assert(Number.isInteger(progress) && progress >= 0 && progress <= 100, `progress ${progress} is a percent`);
  assert(states.length > 0, 'a progress update names the states it applies in');
  await db
    .updateTable('snapshots')
    .set({ progress })
    .where('id', '=', snapshotId)
    .where('state', 'in', states)
    .execute();
}

/** Marks snapshot `snapshotId` as back in the pool after a restore from the archive. */
export async function markSnapshotRestored(
  db: Kysely<Database> | Transaction<Database>,
  snapshotId: string,
): Promise<void> {
  assert(snapshotId.startsWith('snap-'), `restored flag on ${snapshotId}, not a snapshot`);
  await db.updateTable('snapshots').set({ restored: 1 }).where('id', '=', snapshotId).execute();
}
