// Finding the caller's security groups by id or by name (names only in the default VPC, as EC2), with EC2's
// Malformed and NotFound errors.
import type { Kysely } from 'kysely';
import { isValidId } from '../../base/ids.ts';
import type { Database } from '../../db/schema.ts';
import { CloudError, ec2Error } from '../errors.ts';
import type { DefaultVpcs } from '../vpc/default-vpc.ts';
import type { SecurityGroupRow } from './group-rows.ts';

/** A group named by id, or by name in the default VPC. */
export interface GroupRef {
  readonly groupId: string | undefined;
  readonly groupName: string | undefined;
}

/** Throws InvalidGroupId.Malformed for ids that are not `sg-` + hex. */
export function checkGroupIds(ids: readonly string[]): void {
  for (const id of ids) if (!isValidId(id, 'sg')) throw new CloudError('InvalidGroupId.Malformed', { id });
}

/** The caller's groups `ids` in that order, or InvalidGroup.NotFound naming the first missing one. */
export async function ownedGroups(
  db: Kysely<Database>,
  accountId: string,
  ids: readonly string[],
): Promise<SecurityGroupRow[]> {
  checkGroupIds(ids);
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('security_groups')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', 'in', ids)
    .execute();
  return ids.map((id) => {
    const row = rows.find((r) => r.id === id);
    if (row === undefined) throw new CloudError('InvalidGroup.NotFound', { id });
    return row;
  });
}

/** The caller's groups named `names` in the default VPC, or InvalidGroup.NotFound / VPCIdNotSpecified. */
export async function groupsByName(
  db: Kysely<Database>,
  defaults: DefaultVpcs,
  accountId: string,
  names: readonly string[],
): Promise<SecurityGroupRow[]> {
  if (names.length === 0) return [];
  const vpcId = await defaults.ensure(accountId);
  if (vpcId === undefined) throw new CloudError('VPCIdNotSpecified');
  return groupsByNameIn(db, accountId, vpcId, names, ` in default VPC '${vpcId}'`);
}

/** The caller's groups named `names` in VPC `vpcId`; `where` ends the NotFound message. */
export async function groupsByNameIn(
  db: Kysely<Database>,
  accountId: string,
  vpcId: string,
  names: readonly string[],
  where = '',
): Promise<SecurityGroupRow[]> {
  // PostgreSQL rejects `in ()`.
  if (names.length === 0) return [];
  const rows = await db
    .selectFrom('security_groups')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('vpc_id', '=', vpcId)
    .where('name', 'in', names)
    .execute();
  return names.map((name) => {
    const row = rows.find((r) => r.name === name);
    if (row === undefined)
      throw ec2Error('InvalidGroup.NotFound', `The security group '${name}' does not exist${where}`);
    return row;
  });
}

/** The group a request names by GroupId or GroupName. */
export async function groupByRef(
  db: Kysely<Database>,
  defaults: DefaultVpcs,
  accountId: string,
  ref: GroupRef,
): Promise<SecurityGroupRow> {
  if (ref.groupId !== undefined && ref.groupId !== '') {
    const [row] = await ownedGroups(db, accountId, [ref.groupId]);
    return row as SecurityGroupRow;
  }
  if (ref.groupName !== undefined && ref.groupName !== '') {
    const [row] = await groupsByName(db, defaults, accountId, [ref.groupName]);
    return row as SecurityGroupRow;
  }
  throw new CloudError('MissingParameter', { name: 'GroupId' });
}
