// Where a RunInstances launch lands on the network: the subnet (named, or the default subnet of the zone),
// the security groups (by id, by name, or the VPC's default group), the private address (named, or the
// lowest free one of the subnet) and whether a public address is wanted. `plan` checks everything before
// anything is written; `attach` writes the primary network interface inside the launch's transaction.
import { randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { newId } from '../../base/ids.ts';
import { limits } from '../../base/limits.ts';
import type { Database } from '../../db/schema.ts';
import { nowIso } from '../../db/schema.ts';
import { CloudError, ec2Error } from '../errors.ts';
import type { Regions } from '../common/regions.ts';
import { groupsByNameIn, ownedGroups } from '../security-groups/group-lookups.ts';
import type { SecurityGroupRow } from '../security-groups/group-rows.ts';
import {
  firstUsableAddress,
  formatIpv4,
  isUsableAddress,
  lastAddress,
  parseIpv4,
  storedBlock,
} from './cidr-blocks.ts';
import type { DefaultVpcs } from './default-vpc.ts';
import { ownedSubnet, releaseTerminated } from './lookups.ts';
import type { SubnetRow } from './vpc-rows.ts';

/** One NetworkInterfaces.N of RunInstances. */
export interface InterfaceRequest {
  readonly deviceIndex: number | undefined;
  readonly subnetId: string | undefined;
  readonly groupIds: readonly string[];
  readonly privateIp: string | undefined;
  readonly associatePublicIp: boolean | undefined;
  readonly networkInterfaceId: string | undefined;
  readonly description: string | undefined;
}

/** RunInstances' network parameters. */
export interface NetworkRequest {
  readonly subnetId: string | undefined;
  readonly groupIds: readonly string[];
  readonly groupNames: readonly string[];
  readonly privateIp: string | undefined;
  readonly associatePublicIp: boolean | undefined;
  readonly interfaces: readonly InterfaceRequest[];
}

/** RunInstances without network parameters. */
export const noNetworkRequest: NetworkRequest = {
  subnetId: undefined,
  groupIds: [],
  groupNames: [],
  privateIp: undefined,
  associatePublicIp: undefined,
  interfaces: [],
};

/** A checked launch: what each instance's primary interface gets. */
export interface LaunchNetworkPlan {
  readonly subnet: SubnetRow;
  readonly zone: string;
  readonly groupIds: readonly string[];
  /** The one address asked for (single-instance launches only). */
  readonly privateIp: string | undefined;
  readonly associatePublicIp: boolean;
  readonly description: string;
}

/** The one interface a launch asks for, top-level parameters and NetworkInterfaces folded together. */
interface Wanted {
  readonly subnetId: string | undefined;
  readonly groupIds: readonly string[];
  readonly groupNames: readonly string[];
  readonly privateIp: string | undefined;
  readonly associatePublicIp: boolean | undefined;
  readonly description: string;
}

function combination(message: string): CloudError {
  return ec2Error('InvalidParameterCombination', message);
}

function wantedInterface(request: NetworkRequest): Wanted {
  const [first, ...others] = request.interfaces;
  if (first === undefined) return { ...request, description: '' };
  if (request.subnetId !== undefined)
    throw combination(
      'Network interfaces and an instance-level subnet ID may not be specified on the same request',
    );
  if (request.groupIds.length > 0 || request.groupNames.length > 0)
    throw combination(
      'Network interfaces and an instance-level security groups may not be specified on the same request',
    );
  if (request.privateIp !== undefined)
    throw combination(
      'Network interfaces and an instance-level private IP address should not be specified on the same request',
    );
  if (others.length > 0 || (first.deviceIndex ?? 0) !== 0) {
    throw ec2Error(
      'UnsupportedOperation',
      'Strata launches instances with one network interface, DeviceIndex 0.',
    );
  }
  if (first.networkInterfaceId !== undefined) {
    throw ec2Error(
      'UnsupportedOperation',
      'Attaching an existing network interface at launch is not supported.',
    );
  }
  const associatePublicIp = first.associatePublicIp ?? request.associatePublicIp;
  return { ...first, groupNames: [], associatePublicIp, description: first.description ?? '' };
}

/** Checks a launch's network parameters and picks its subnet and groups. */
export async function planLaunchNetwork(
  deps: { readonly db: Kysely<Database>; readonly defaults: DefaultVpcs; readonly regions: Regions },
  accountId: string,
  request: NetworkRequest,
  zone: string | undefined,
  count: number,
): Promise<LaunchNetworkPlan> {
  const wanted = wantedInterface(request);
  const subnet = await launchSubnet(deps, accountId, wanted.subnetId, zone);
  const groups = await launchGroups(deps.db, accountId, subnet, wanted);
  if (wanted.privateIp !== undefined) {
    const address = parseIpv4(wanted.privateIp);
    if (address === undefined)
      throw ec2Error('InvalidParameterValue', `Invalid value '${wanted.privateIp}' for IP address`);
    if (!isUsableAddress(storedBlock(subnet.cidr_block), address)) {
      throw ec2Error(
        'InvalidParameterValue',
        `Address ${wanted.privateIp} does not fall within the subnet's address range`,
      );
    }
    if (count > 1)
      throw combination('Cannot specify a private IP address when launching more than one instance');
  }
  return {
    subnet,
    zone: subnet.availability_zone,
    groupIds: groups.map((g) => g.id),
    privateIp: wanted.privateIp,
    associatePublicIp: wanted.associatePublicIp ?? subnet.map_public_ip_on_launch === 1,
    description: wanted.description,
  };
}

async function launchSubnet(
  deps: { readonly db: Kysely<Database>; readonly defaults: DefaultVpcs; readonly regions: Regions },
  accountId: string,
  subnetId: string | undefined,
  zone: string | undefined,
): Promise<SubnetRow> {
  if (subnetId !== undefined && subnetId !== '') {
    const subnet = await ownedSubnet(deps.db, accountId, subnetId);
    if (zone !== undefined && zone !== subnet.availability_zone) {
      throw ec2Error(
        'InvalidParameterValue',
        `Value (${zone}) for parameter availabilityZone is invalid. Subnet '${subnetId}' is in the availability zone ${subnet.availability_zone}`,
      );
    }
    return subnet;
  }
  const vpcId = await deps.defaults.ensure(accountId);
  if (vpcId === undefined)
    throw ec2Error('VPCIdNotSpecified', 'No default VPC for this user. Specify a subnet.');
  const defaults = await deps.db
    .selectFrom('subnets')
    .selectAll()
    .where('vpc_id', '=', vpcId)
    .where('default_for_az', '=', 1)
    .execute();
  const order = deps.regions.zones.map((z) => z.zoneName);
  const sorted = defaults.sort(
    (a, b) => order.indexOf(a.availability_zone) - order.indexOf(b.availability_zone),
  );
  const subnet = zone === undefined ? sorted[0] : sorted.find((s) => s.availability_zone === zone);
  if (subnet === undefined) {
    throw ec2Error('MissingInput', `No default subnet for availability zone: '${zone ?? order[0] ?? ''}'.`);
  }
  return subnet;
}

async function launchGroups(
  db: Kysely<Database>,
  accountId: string,
  subnet: SubnetRow,
  wanted: Wanted,
): Promise<SecurityGroupRow[]> {
  const byId = await ownedGroups(db, accountId, wanted.groupIds);
  for (const group of byId) {
    if (group.vpc_id !== subnet.vpc_id) {
      throw ec2Error(
        'InvalidParameter',
        `Security group ${group.id} and subnet ${subnet.id} belong to different networks.`,
      );
    }
  }
  const byName = await groupsByNameIn(
    db,
    accountId,
    subnet.vpc_id,
    wanted.groupNames,
    ` in VPC '${subnet.vpc_id}'`,
  );
  const groups = [...new Map([...byId, ...byName].map((g) => [g.id, g])).values()];
  if (groups.length > limits.securityGroupsPerInterfaceMax) {
    throw ec2Error(
      'SecurityGroupsPerInterfaceLimitExceeded',
      'The maximum number of security groups per interface has been reached.',
    );
  }
  if (groups.length > 0) return groups;
  return groupsByNameIn(db, accountId, subnet.vpc_id, ['default']);
}

/** Writes the primary interface of `instanceId` inside the launch's transaction; returns its address. */
export async function attachLaunchInterface(
  trx: Transaction<Database>,
  accountId: string,
  instanceId: string,
  plan: LaunchNetworkPlan,
): Promise<string> {
  await releaseTerminated(trx);
  // A no-op update locks the VPC's row until the launch commits, so concurrent launches into one VPC
  // (PostgreSQL; SQLite has one writer anyway) pick addresses one after the other, never the same one.
  await trx
    .updateTable('vpcs')
    .set((eb) => ({ instance_tenancy: eb.ref('instance_tenancy') }))
    .where('id', '=', plan.subnet.vpc_id)
    .execute();
  const used = await trx
    .selectFrom('network_interfaces')
    .select('private_ip')
    .where('vpc_id', '=', plan.subnet.vpc_id)
    .execute();
  const taken = new Set(used.map((u) => u.private_ip));
  const privateIp = plan.privateIp ?? freeAddress(plan.subnet, taken);
  if (taken.has(privateIp)) throw new CloudError('InvalidIPAddress.InUse', { ip: privateIp });
  const id = newId('eni');
  await trx
    .insertInto('network_interfaces')
    .values({
      id,
      account_id: accountId,
      vpc_id: plan.subnet.vpc_id,
      subnet_id: plan.subnet.id,
      availability_zone: plan.subnet.availability_zone,
      instance_id: instanceId,
      device_index: 0,
      attachment_id: newId('eni-attach'),
      private_ip: privateIp,
      mac: `02:${[...randomBytes(5)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`,
      associate_public_ip: plan.associatePublicIp ? 1 : 0,
      description: plan.description,
      created_at: nowIso(),
    })
    .execute();
  const groups = plan.groupIds.map((groupId, position) => ({
    interface_id: id,
    group_id: groupId,
    position,
  }));
  await trx.insertInto('network_interface_groups').values(groups).execute();
  return privateIp;
}

// The lowest address of the subnet no interface of the VPC has.
function freeAddress(subnet: SubnetRow, taken: ReadonlySet<string>): string {
  const cidr = storedBlock(subnet.cidr_block);
  for (let address = firstUsableAddress(cidr); address < lastAddress(cidr); address++) {
    const text = formatIpv4(address);
    if (!taken.has(text)) return text;
  }
  throw ec2Error(
    'InsufficientFreeAddressesInSubnet',
    `There are not enough free addresses in subnet '${subnet.id}' to satisfy the requested number of instances.`,
  );
}
