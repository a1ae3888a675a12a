// The one writer of a volume row once it exists. Every change of `volumes.state` goes through
// `transitionVolume`, from the states it may leave to the state it enters, so "when does a volume become
// in-use or available?" has one answer: the callers of this function, all in ebs/volumes.ts. The settings
// ModifyVolume and ModifyVolumeAttribute change go through `setVolumeAttributes`; ebs/volumes.ts inserts and
// deletes the rows.
//
//   creating ──device made──▶ available ⇄ in-use (AttachVolume/DetachVolume, instance launch and release)
//   available | error ──DeleteVolume──▶ deleting ──▶ (row gone)
//   any ──a background step failed──▶ error
import type { Kysely, Transaction, Updateable } from 'kysely';
import { assert } from '../../base/assert.ts';
import type { Database } from '../../db/schema.ts';
import type { VolumesTable } from '../../db/tables/volumes.ts';

/** The states of a volume, as EC2 names them. */
export const volumeStates = ['creating', 'available', 'in-use', 'deleting', 'error'] as const;

/** One volume state. */
export type VolumeState = (typeof volumeStates)[number];

/** Moves volume `volumeId` (of `accountId`, when given) to `to` if it is in one of `from`; true when it moved. */
export async function transitionVolume(
  db: Kysely<Database> | Transaction<Database>,
  volumeId: string,
  from: readonly VolumeState[],
  to: VolumeState,
  accountId?: string,
): Promise<boolean> {
  assert(from.length > 0, 'a transition leaves at least one state');
  let update = db.updateTable('volumes').set({ state: to }).where('id', '=', volumeId);
  if (accountId !== undefined) update = update.where('account_id', '=', accountId);
  const result = await update.where('state', 'in', from).executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/** The settings of a volume that change without a state change (ModifyVolume, ModifyVolumeAttribute). */
export type VolumeAttributes = Pick<
  Updateable<VolumesTable>,
  'size_gib' | 'volume_type' | 'iops' | 'throughput' | 'multi_attach_enabled' | 'auto_enable_io'
>;

/** Sets `attributes` of volume `volumeId` (of `accountId`, when given), whatever its state. */
export async function setVolumeAttributes(
  db: Kysely<Database> | Transaction<Database>,
  volumeId: string,
  attributes: VolumeAttributes,
  accountId?: string,
): Promise<void> {
  assert(Object.keys(attributes).length > 0, 'an attribute update sets at least one column');
  assert(!('state' in attributes), 'a volume state changes only through transitionVolume');
  let update = db.updateTable('volumes').set(attributes);
  if (accountId !== undefined) update = update.where('account_id', '=', accountId);
  await update.where('id', '=', volumeId).execute();
}
