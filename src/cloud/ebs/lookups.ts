// Account-scoped lookups of volumes and snapshots shared by the volume and snapshot services. Another
// account's resource answers exactly like a missing one, unless a snapshot is shared with the caller.
import type { Kysely, Selectable, Transaction } from 'kysely';
import { isValidId, type IdPrefix } from '../../base/ids.ts';
import { CloudError } from '../errors.ts';
import type { Database } from '../../db/schema.ts';
import type { VolumesTable } from '../../db/tables/volumes.ts';
import type { SnapshotsTable } from '../../db/tables/snapshots.ts';

/** A volume row as read. */
export type VolumeRow = Selectable<VolumesTable>;
/** A snapshot row as read. */
export type SnapshotRow = Selectable<SnapshotsTable>;

/** Anything Kysely can query through. */
export type Db = Kysely<Database> | Transaction<Database>;

/** Throws `<Kind>ID.Malformed` for each id that is not `prefix-` + 8 or 17 hex digits. */
export function checkIds(ids: readonly string[], prefix: IdPrefix): void {
  const code = prefix === 'vol' ? 'InvalidVolumeID.Malformed' : 'InvalidSnapshotID.Malformed';
  for (const id of ids) if (!isValidId(id, prefix)) throw new CloudError(code, { id });
}

/** The caller's volume `id` (never another account's), or InvalidVolume.NotFound. */
export async function ownedVolume(db: Db, accountId: string, id: string): Promise<VolumeRow> {
  checkIds([id], 'vol');
  const row = await db
    .selectFrom('volumes')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .executeTakeFirst();
  if (row === undefined || row.state === 'deleted') throw new CloudError('InvalidVolume.NotFound', { id });
  return row;
}

/** How a caller stands to a snapshot. */
export type SnapshotAccess = 'owned' | 'shared';

/** Snapshot `id` if the caller owns it or may create volumes from it, or InvalidSnapshot.NotFound. */
export async function visibleSnapshot(
  db: Db,
  accountId: string,
  id: string,
): Promise<{ row: SnapshotRow; access: SnapshotAccess }> {
  checkIds([id], 'snap');
  const row = await db.selectFrom('snapshots').selectAll().where('id', '=', id).executeTakeFirst();
  if (row === undefined || row.state === 'deleting') throw new CloudError('InvalidSnapshot.NotFound', { id });
  if (row.account_id === accountId) return { row, access: 'owned' };
  if (await isSharedWith(db, id, accountId)) return { row, access: 'shared' };
  throw new CloudError('InvalidSnapshot.NotFound', { id });
}

/** Whether snapshot `id` grants createVolumePermission to `accountId` or to everyone. */
export async function isSharedWith(db: Db, snapshotId: string, accountId: string): Promise<boolean> {
  const grant = await db
    .selectFrom('snapshot_permissions')
    .select('grantee')
    .where('snapshot_id', '=', snapshotId)
    .where((eb) =>
      eb.or([
        eb.and([eb('kind', '=', 'user'), eb('grantee', '=', accountId)]),
        eb.and([eb('kind', '=', 'group'), eb('grantee', '=', 'all')]),
      ]),
    )
    .executeTakeFirst();
  return grant !== undefined;
}

/** The caller's own snapshot, or NotFound when invisible and UnauthorizedOperation when merely shared. */
export async function ownedSnapshot(db: Db, accountId: string, id: string): Promise<SnapshotRow> {
  const { row, access } = await visibleSnapshot(db, accountId, id);
  if (access !== 'owned') throw new CloudError('UnauthorizedOperation');
  return row;
}

/** EC2's message for ids given with MaxResults. */
export function idsWithMaxResults(setName: string): CloudError {
  return new CloudError('InvalidParameterCombination', {
    message: `The parameter ${setName} cannot be used with the parameter maxResults`,
  });
}

/** The volume id AWS shows for snapshots that were not taken from a volume (EBS direct, imports). */
export const unknownVolumeId = 'vol-ffffffff';
