// The caller's VPCs and subnets by id, with EC2's Malformed and NotFound errors: every action that names one
// goes through here, so account isolation is one `where` in one place.
import type { Kysely } from 'kysely';
import { isValidId } from '../../base/ids.ts';
import type { Database } from '../../db/schema.ts';
import { CloudError } from '../errors.ts';
import type { SubnetRow, VpcRow } from './vpc-rows.ts';

/** The caller's VPC `vpcId`, or InvalidVpcID.Malformed / InvalidVpcID.NotFound. */
export async function ownedVpc(db: Kysely<Database>, accountId: string, vpcId: string): Promise<VpcRow> {
  if (!isValidId(vpcId, 'vpc')) throw new CloudError('InvalidVpcID.Malformed', { id: vpcId });
  const row = await db
    .selectFrom('vpcs')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', vpcId)
    .executeTakeFirst();
  if (row === undefined) throw new CloudError('InvalidVpcID.NotFound', { id: vpcId });
  return row;
}

/** The caller's subnet `subnetId`, or InvalidSubnetID.Malformed / InvalidSubnetID.NotFound. */
export async function ownedSubnet(
  db: Kysely<Database>,
  accountId: string,
  subnetId: string,
): Promise<SubnetRow> {
  if (!isValidId(subnetId, 'subnet')) throw new CloudError('InvalidSubnetID.Malformed', { id: subnetId });
  const row = await db
    .selectFrom('subnets')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', subnetId)
    .executeTakeFirst();
  if (row === undefined) throw new CloudError('InvalidSubnetID.NotFound', { id: subnetId });
  return row;
}

/** Whether `table` holds a row `id` of `accountId` (tag access checks). */
export async function ownsRow(
  db: Kysely<Database>,
  table:
    | 'vpcs'
    | 'subnets'
    | 'route_tables'
    | 'internet_gateways'
    | 'network_interfaces'
    | 'security_groups'
    | 'security_group_rules',
  accountId: string,
  id: string,
): Promise<'owned' | 'missing'> {
  const row = await db
    .selectFrom(table)
    .select('id')
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .executeTakeFirst();
  return row === undefined ? 'missing' : 'owned';
}

/** Deletes ENIs of terminated instances and their tags: their private addresses are free again. */
export async function releaseTerminated(db: Kysely<Database>): Promise<void> {
  const released = await db
    .selectFrom('network_interfaces')
    .innerJoin('instances', 'instances.id', 'network_interfaces.instance_id')
    .select('network_interfaces.id')
    .where('instances.state', '=', 'terminated')
    .execute();
  // Bounded by what terminated since the last release; usually nothing, so no write at all.
  if (released.length === 0) return;
  const ids = released.map((r) => r.id);
  await db.deleteFrom('tags').where('resource_id', 'in', ids).execute();
  await db.deleteFrom('network_interfaces').where('id', 'in', ids).execute();
}
