// launchPermission of images: grants to accounts (`user`), to everyone (`group all`, a public image), and to
// AWS Organizations and organizational units by ARN (`organization`, `organizational-unit`). Strata has no
// organizations, so those are stored, listed and removed like the others, but let no account launch.
import type { Kysely } from 'kysely';
import { CloudError, ec2Error } from '../errors.ts';
import { limits } from '../../base/limits.ts';
import type { Database } from '../../db/schema.ts';

/** One grant as requests carry it: `userId`, `group` (only `all` exists), or an organization (unit) ARN. */
export interface LaunchPermission {
  readonly userId: string | undefined;
  readonly group: string | undefined;
  readonly organizationArn?: string | undefined;
  readonly organizationalUnitArn?: string | undefined;
}

const organizationArn = /^arn:aws[a-z-]*:organizations::\d{12}:organization\/o-[a-z0-9]{10,32}$/;
const organizationalUnitArn =
  /^arn:aws[a-z-]*:organizations::\d{12}:ou\/o-[a-z0-9]{10,32}\/ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$/;

/** A launchPermission change: grants to add and to remove. */
export interface LaunchPermissionChange {
  readonly add: readonly LaunchPermission[];
  readonly remove: readonly LaunchPermission[];
}

function toRow(
  imageId: string,
  permission: LaunchPermission,
): { image_id: string; kind: string; grantee: string } {
  if (permission.group !== undefined) {
    if (permission.group !== 'all') {
      throw ec2Error(
        'InvalidAMIAttributeItemValue',
        `Invalid attribute item value "${permission.group}" for group.`,
      );
    }
    return { image_id: imageId, kind: 'group', grantee: 'all' };
  }
  if (permission.organizationArn !== undefined)
    return {
      image_id: imageId,
      kind: 'organization',
      grantee: itemValue(permission.organizationArn, organizationArn, 'organizationArn'),
    };
  if (permission.organizationalUnitArn !== undefined) {
    const arn = itemValue(permission.organizationalUnitArn, organizationalUnitArn, 'organizationalUnitArn');
    return { image_id: imageId, kind: 'organizational-unit', grantee: arn };
  }
  if (permission.userId === undefined)
    throw new CloudError('MissingParameter', { name: 'LaunchPermission.UserId' });
  return { image_id: imageId, kind: 'user', grantee: itemValue(permission.userId, /^\d{12}$/, 'userId') };
}

function itemValue(value: string, pattern: RegExp, type: string): string {
  if (!pattern.test(value))
    throw ec2Error(
      'InvalidAMIAttributeItemValue',
      `Invalid attribute item value "${value}" for ${type} item type.`,
    );
  return value;
}

/** Applies `change` to `imageId` (removals first, as EC2 answers a call with both). */
export async function changeLaunchPermissions(
  db: Kysely<Database>,
  imageId: string,
  change: LaunchPermissionChange,
): Promise<void> {
  const count = change.add.length + change.remove.length;
  if (count === 0) throw new CloudError('MissingParameter', { name: 'LaunchPermission' });
  if (count > limits.launchPermissionsPerCallMax) {
    throw ec2Error(
      'InvalidParameterValue',
      `At most ${limits.launchPermissionsPerCallMax} launch permissions per call.`,
    );
  }
  const removals = change.remove.map((p) => toRow(imageId, p));
  const additions = change.add.map((p) => toRow(imageId, p));
  await db.transaction().execute(async (trx) => {
    for (const row of removals) {
      await trx
        .deleteFrom('image_launch_permissions')
        .where('image_id', '=', imageId)
        .where('kind', '=', row.kind)
        .where('grantee', '=', row.grantee)
        .execute();
    }
    if (additions.length > 0) {
      await trx
        .insertInto('image_launch_permissions')
        .values(additions)
        .onConflict((oc) => oc.columns(['image_id', 'kind', 'grantee']).doNothing())
        .execute();
    }
  });
}

/** The grants of each image, `all` for public ones. */
export async function launchPermissionsOf(
  db: Kysely<Database>,
  imageIds: readonly string[],
): Promise<Map<string, { kind: string; grantee: string }[]>> {
  const result = new Map<string, { kind: string; grantee: string }[]>();
  if (imageIds.length === 0) return result;
  const rows = await db
    .selectFrom('image_launch_permissions')
    .selectAll()
    .where('image_id', 'in', imageIds)
    .orderBy('kind')
    .orderBy('grantee')
    .execute();
  for (const row of rows) {
    const list = result.get(row.image_id) ?? [];
    list.push({ kind: row.kind, grantee: row.grantee });
    result.set(row.image_id, list);
  }
  return result;
}

/** ResetImageAttribute launchPermission: the image becomes private to its owner again. */
export async function resetLaunchPermissions(db: Kysely<Database>, imageId: string): Promise<void> {
  await db.deleteFrom('image_launch_permissions').where('image_id', '=', imageId).execute();
}
