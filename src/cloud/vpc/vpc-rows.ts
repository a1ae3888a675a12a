// Rows of the VPC model as read, and the writes that make a VPC whole: the VPC, its main route table and its
// `default` security group, plus (for a default VPC) an attached internet gateway and one subnet per zone.
import type { Selectable } from 'kysely';
import { newId } from '../../base/ids.ts';
import type {
  InternetGatewaysTable,
  NetworkInterfacesTable,
  RouteTablesTable,
  SubnetsTable,
  VpcsTable,
} from '../../db/tables/vpc-networking.ts';
import { insertDefaultGroup, type Db } from '../security-groups/group-rows.ts';
import type { Zone } from '../common/regions.ts';

/** A VPC row as read. */
export type VpcRow = Selectable<VpcsTable>;
/** A subnet row as read. */
export type SubnetRow = Selectable<SubnetsTable>;
/** A route table row as read. */
export type RouteTableRow = Selectable<RouteTablesTable>;
/** An internet gateway row as read. */
export type InternetGatewayRow = Selectable<InternetGatewaysTable>;
/** A network interface row as read. */
export type NetworkInterfaceRow = Selectable<NetworkInterfacesTable>;

/** The default VPC's block, as in every AWS account. */
export const defaultVpcCidr = '172.31.0.0/16';

/** What a new VPC is. */
export interface NewVpc {
  readonly id: string;
  readonly accountId: string;
  readonly cidrBlock: string;
  readonly isDefault: boolean;
  readonly instanceTenancy: string;
  readonly now: string;
}

/** Inserts a VPC with its main route table (local route only) and its `default` security group. */
export async function insertVpc(db: Db, vpc: NewVpc): Promise<VpcRow> {
  const row: VpcRow = {
    id: vpc.id,
    account_id: vpc.accountId,
    cidr_block: vpc.cidrBlock,
    is_default: vpc.isDefault ? 1 : 0,
    instance_tenancy: vpc.instanceTenancy,
    created_at: vpc.now,
  };
  await db.insertInto('vpcs').values(row).execute();
  await db
    .insertInto('route_tables')
    .values({
      id: newId('rtb'),
      account_id: vpc.accountId,
      vpc_id: vpc.id,
      is_main: 1,
      gateway_id: null,
      created_at: vpc.now,
    })
    .execute();
  await insertDefaultGroup(db, vpc.accountId, vpc.id, vpc.now);
  return row;
}

/** The default subnet block of the zone at `index`: 172.31.0.0/20, 172.31.16.0/20, … */
export function defaultSubnetCidr(index: number): string {
  return `172.31.${index * 16}.0/20`;
}

/** Inserts a whole default VPC: VPC, attached gateway, a default route, and a default subnet per zone. */
export async function insertDefaultVpc(
  db: Db,
  accountId: string,
  vpcId: string,
  zones: readonly Zone[],
  now: string,
): Promise<void> {
  await insertVpc(db, {
    id: vpcId,
    accountId,
    cidrBlock: defaultVpcCidr,
    isDefault: true,
    instanceTenancy: 'default',
    now,
  });
  const gatewayId = newId('igw');
  await db
    .insertInto('internet_gateways')
    .values({ id: gatewayId, account_id: accountId, vpc_id: vpcId, created_at: now })
    .execute();
  await db.updateTable('route_tables').set({ gateway_id: gatewayId }).where('vpc_id', '=', vpcId).execute();
  // A /16 holds sixteen /20s; more zones than that get no default subnet.
  const subnets = zones.slice(0, 16).map((zone, index) => ({
    id: newId('subnet'),
    account_id: accountId,
    vpc_id: vpcId,
    cidr_block: defaultSubnetCidr(index),
    availability_zone: zone.zoneName,
    default_for_az: 1,
    map_public_ip_on_launch: 1,
    created_at: now,
  }));
  if (subnets.length > 0) await db.insertInto('subnets').values(subnets).execute();
}
