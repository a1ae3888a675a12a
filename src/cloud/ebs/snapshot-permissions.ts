// Snapshot attributes: createVolumePermission (sharing with accounts or with everyone) and the read-only
// productCodes. Only the owner may read or change them; a grantee sees the snapshot, restores volumes
// from it and copies it, but gets UnauthorizedOperation for anything that changes it.
import type { Kysely } from 'kysely';
import { CloudError, ec2Error } from '../errors.ts';
import type { Database } from '../../db/schema.ts';
import { ownedSnapshot } from './lookups.ts';
import type { DryRunCheck } from '../common/dry-run.ts';

/** The attributes EC2 defines for snapshots. */
export type SnapshotAttribute = 'createVolumePermission' | 'productCodes';

/** One createVolumePermission entry as EC2 shows it. */
export type VolumePermission = { readonly userId: string } | { readonly group: 'all' };

/** A ModifySnapshotAttribute request, with both of EC2's spellings merged into add/remove lists. */
export interface PermissionChange {
  readonly add: readonly VolumePermission[];
  readonly remove: readonly VolumePermission[];
}

/** Parses the Attribute parameter. */
export function parseSnapshotAttribute(value: string | undefined): SnapshotAttribute {
  if (value === undefined || value === '') throw new CloudError('MissingParameter', { name: 'Attribute' });
  if (value === 'createVolumePermission' || value === 'productCodes') return value;
  throw ec2Error(
    'InvalidParameterValue',
    `Value (${value}) for parameter attribute is invalid. Unknown attribute.`,
  );
}

/** Reads and changes who may create volumes from a snapshot. */
export class SnapshotPermissions {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** DescribeSnapshotAttribute createVolumePermission: the grants, owner only. */
  async list(accountId: string, snapshotId: string): Promise<VolumePermission[]> {
    await ownedSnapshot(this.#db, accountId, snapshotId);
    const rows = await this.#db
      .selectFrom('snapshot_permissions')
      .select(['kind', 'grantee'])
      .where('snapshot_id', '=', snapshotId)
      .orderBy('kind')
      .orderBy('grantee')
      .execute();
    return rows.map((r) => (r.kind === 'group' ? { group: 'all' as const } : { userId: r.grantee }));
  }

  /** Checks the caller owns the snapshot (for productCodes, which is always empty). */
  async checkOwner(accountId: string, snapshotId: string): Promise<void> {
    await ownedSnapshot(this.#db, accountId, snapshotId);
  }

  /** ModifySnapshotAttribute: adds and removes grants atomically. */
  async modify(
    accountId: string,
    snapshotId: string,
    change: PermissionChange,
    dryRun: DryRunCheck,
  ): Promise<void> {
    await ownedSnapshot(this.#db, accountId, snapshotId);
    if (change.add.length === 0 && change.remove.length === 0) {
      throw new CloudError('MissingParameter', { name: 'CreateVolumePermission or UserId/UserGroup' });
    }
    for (const permission of [...change.add, ...change.remove]) checkPermission(permission);
    dryRun();
    await this.#db.transaction().execute(async (trx) => {
      for (const permission of change.add) {
        await trx
          .insertInto('snapshot_permissions')
          .values({ snapshot_id: snapshotId, ...toRow(permission) })
          .onConflict((oc) => oc.doNothing())
          .execute();
      }
      for (const permission of change.remove) {
        const { kind, grantee } = toRow(permission);
        await trx
          .deleteFrom('snapshot_permissions')
          .where('snapshot_id', '=', snapshotId)
          .where('kind', '=', kind)
          .where('grantee', '=', grantee)
          .execute();
      }
    });
  }

  /** ResetSnapshotAttribute createVolumePermission: the snapshot is private again. */
  async reset(accountId: string, snapshotId: string, dryRun: DryRunCheck): Promise<void> {
    await ownedSnapshot(this.#db, accountId, snapshotId);
    dryRun();
    await this.#db.deleteFrom('snapshot_permissions').where('snapshot_id', '=', snapshotId).execute();
  }
}

function checkPermission(permission: VolumePermission): void {
  if ('group' in permission) {
    if (permission.group !== 'all') {
      throw ec2Error(
        'InvalidParameterValue',
        `Value (${String(permission.group)}) for parameter group is invalid. Expected: all.`,
      );
    }
    return;
  }
  if (!/^\d{12}$/.test(permission.userId)) {
    throw ec2Error(
      'InvalidParameterValue',
      `Value (${permission.userId}) for parameter userId is invalid. Expected: a 12-digit account id.`,
    );
  }
}

function toRow(permission: VolumePermission): { kind: string; grantee: string } {
  return 'group' in permission
    ? { kind: 'group', grantee: 'all' }
    : { kind: 'user', grantee: permission.userId };
}
