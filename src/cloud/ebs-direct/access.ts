// Who may touch a snapshot through the EBS direct API, and how two snapshots relate.
// Reads (List*, GetSnapshotBlock) are allowed to the owner and to accounts holding createVolumePermission
// (they could restore a volume and read every byte anyway); writes only to the owner. Anything else answers
// ResourceNotFoundException, exactly like a missing snapshot, so ids of other accounts do not leak.
import { isValidId } from '../../base/ids.ts';
import type { BlockStore } from '../../storage/block-store.ts';
import { isSharedWith, unknownVolumeId, type Db, type SnapshotRow } from '../ebs/lookups.ts';
import type { EnsureSnapshotInPool } from '../ebs/clone-snapshot.ts';
import { snapshotNotFound, validation } from './exceptions.ts';

/** Generations walked to find a lineage root; a longer clone chain is treated as unrelated. */
const lineageHopsMax = 10_000;

/** Checks the shape of a snapshot id (ValidationException INVALID_SNAPSHOT_ID otherwise). */
export function checkSnapshotId(id: string): void {
  if (!isValidId(id, 'snap')) {
    throw validation('INVALID_SNAPSHOT_ID', `The snapshot ID '${id}' is malformed.`);
  }
}

/** What `readableSnapshot` looks in. */
export interface SnapshotAccess {
  readonly db: Db;
  readonly store: BlockStore;
  /** Brings back an archived snapshot whose pool copy is gone (cloud/ebs/snapshot-archive.ts). */
  readonly ensureSnapshotInPool?: EnsureSnapshotInPool;
}

/** A snapshot the caller may read, completed and present in the store (brought back from the archive if need be). */
export async function readableSnapshot(
  access: SnapshotAccess,
  accountId: string,
  id: string,
): Promise<SnapshotRow> {
  const { db, store } = access;
  checkSnapshotId(id);
  const row = await db.selectFrom('snapshots').selectAll().where('id', '=', id).executeTakeFirst();
  if (row === undefined || row.state === 'deleting') throw snapshotNotFound(id);
  if (row.account_id !== accountId && !(await isSharedWith(db, id, accountId))) throw snapshotNotFound(id);
  if (row.state === 'completed' && row.archived === 1 && store.device(id) === undefined) {
    await access.ensureSnapshotInPool?.(id);
  }
  if (row.state !== 'completed' || store.device(id)?.kind !== 'snapshot') {
    throw validation(
      'INVALID_SNAPSHOT_ID',
      `The snapshot '${id}' is ${row.state}: the EBS direct APIs read completed snapshots only.`,
    );
  }
  return row;
}

/**
 * The lineage root of a snapshot, from the metadata (the store forgets deleted intermediate devices):
 * an EBS direct upload continues its parent, a copy its source, a CreateSnapshot its volume, and a volume
 * the snapshot it was created from.
 */
export async function lineageRoot(db: Db, snapshotId: string): Promise<string> {
  let current = snapshotId;
  for (let hop = 0; hop < lineageHopsMax; hop++) {
    const next = await parentOf(db, current);
    if (next === undefined) return current;
    current = next;
  }
  return current;
}

async function parentOf(db: Db, id: string): Promise<string | undefined> {
  if (id.startsWith('snap-')) {
    const upload = await db
      .selectFrom('ebs_direct_uploads')
      .select('parent_snapshot_id')
      .where('snapshot_id', '=', id)
      .executeTakeFirst();
    if (upload !== undefined) return upload.parent_snapshot_id ?? undefined;
    const row = await db
      .selectFrom('snapshots')
      .select(['volume_id', 'source_snapshot_id'])
      .where('id', '=', id)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    return row.source_snapshot_id ?? (row.volume_id === unknownVolumeId ? undefined : row.volume_id);
  }
  const volume = await db.selectFrom('volumes').select('snapshot_id').where('id', '=', id).executeTakeFirst();
  return volume?.snapshot_id ?? undefined;
}
