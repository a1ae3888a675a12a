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

/** Deletes ENIs of terminated instances: their private addresses are free again. */
export async function releaseTerminated(db: Kysely<Database>): Promise<void> {
  await db
    .deleteFrom('network_interfaces')
    .where('instance_id', 'in', (eb) =>
      eb.selectFrom('instances').select('id').where('state', '=', 'terminated'),
    )
    .execute();
}
