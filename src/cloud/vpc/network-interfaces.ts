// Elastic network interfaces: each instance's primary interface (made at launch, launch-network.ts), shown by
// DescribeNetworkInterfaces and by DescribeInstances, and its security groups (ModifyInstanceAttribute
// GroupId.N). An interface lives while its instance does: terminated instances' interfaces are released
// (lookups.ts releaseTerminated) before addresses are allocated or dependencies checked; reads skip them.
import type { Kysely } from 'kysely';
import { limits } from '../../base/limits.ts';
import type { Database } from '../../db/schema.ts';
import { CloudError, ec2Error } from '../errors.ts';
import type { FilterFields } from '../common/filters.ts';
import type { Page } from '../common/pagination.ts';
import type { Regions } from '../common/regions.ts';
import type { DryRunCheck } from '../common/dry-run.ts';
import { ownedGroups } from '../security-groups/group-lookups.ts';
import { checkIds, describeRows, type DescribeRequest } from './describe-resources.ts';
import { ownsRow } from './lookups.ts';
import type { NetworkInterfaceRow } from './vpc-rows.ts';
import type { VpcDeps } from './vpcs.ts';

/** An interface with what its descriptions show: groups, blocks, DNS name and its instance's owner. */
export interface InterfaceView {
  readonly row: NetworkInterfaceRow;
  readonly tags: ReadonlyMap<string, string>;
  readonly groups: readonly { readonly id: string; readonly name: string }[];
  readonly vpcCidr: string;
  readonly subnetCidr: string;
  readonly privateDnsName: string;
}

/** `ip-172-31-16-5.ec2.internal` in us-east-1, `ip-….REGION.compute.internal` elsewhere (EC2's names). */
export function privateDnsName(region: string, ip: string): string {
  const host = `ip-${ip.replaceAll('.', '-')}`;
  return region === 'us-east-1' ? `${host}.ec2.internal` : `${host}.${region}.compute.internal`;
}

const interfaceFields: FilterFields<InterfaceView> = {
  'addresses.private-ip-address': ({ row }) => row.private_ip,
  'addresses.primary': () => true,
  'attachment.attachment-id': ({ row }) => row.attachment_id,
  'attachment.device-index': ({ row }) => row.device_index,
  'attachment.instance-id': ({ row }) => row.instance_id,
  'attachment.instance-owner-id': ({ row }) => row.account_id,
  'attachment.status': () => 'attached',
  'availability-zone': ({ row }) => row.availability_zone,
  description: ({ row }) => row.description,
  'group-id': (v) => v.groups.map((g) => g.id),
  'group-name': (v) => v.groups.map((g) => g.name),
  'interface-type': () => 'interface',
  'mac-address': ({ row }) => row.mac,
  'network-interface-id': ({ row }) => row.id,
  'owner-id': ({ row }) => row.account_id,
  'private-dns-name': (v) => v.privateDnsName,
  'private-ip-address': ({ row }) => row.private_ip,
  'requester-managed': () => false,
  'source-dest-check': () => true,
  status: () => 'in-use',
  'subnet-id': ({ row }) => row.subnet_id,
  'vpc-id': ({ row }) => row.vpc_id,
};

/** DescribeInstances' network filters, over an instance's primary interface. */
export const instanceNetworkFields: FilterFields<{ readonly network: InterfaceView | undefined }> = {
  'vpc-id': (i) => i.network?.row.vpc_id,
  'subnet-id': (i) => i.network?.row.subnet_id,
  'private-ip-address': (i) => i.network?.row.private_ip,
  'private-dns-name': (i) => i.network?.privateDnsName,
  'instance.group-id': (i) => i.network?.groups.map((g) => g.id),
  'instance.group-name': (i) => i.network?.groups.map((g) => g.name),
  'group-id': (i) => i.network?.groups.map((g) => g.id),
  'group-name': (i) => i.network?.groups.map((g) => g.name),
  ...Object.fromEntries(
    Object.entries(interfaceFields).map(([name, field]) => [
      `network-interface.${name}`,
      (i: { readonly network: InterfaceView | undefined }) =>
        i.network === undefined ? undefined : field(i.network),
    ]),
  ),
};

/** Network interfaces of every account. */
export class NetworkInterfaceService {
  readonly #deps: VpcDeps;
  readonly #regions: Regions;
  readonly #changed: () => void;

  constructor(deps: VpcDeps, regions: Regions, changed: () => void) {
    this.#deps = deps;
    this.#regions = regions;
    this.#changed = changed;
    deps.tags.registerKind({
      prefix: 'eni',
      resourceType: 'network-interface',
      notFound: 'InvalidNetworkInterfaceID.NotFound',
      access: (accountId, id) => ownsRow(deps.db, 'network_interfaces', accountId, id),
    });
  }

  /** DescribeNetworkInterfaces. */
  async describe(accountId: string, request: DescribeRequest): Promise<Page<InterfaceView>> {
    checkIds(request.ids, 'eni', 'InvalidNetworkInterfaceID.Malformed');
    const views = await this.#views(this.#deps.db, accountId, undefined);
    return describeRows(this.#deps.paginator, {
      action: 'DescribeNetworkInterfaces',
      accountId,
      request,
      rows: views,
      idOf: (view) => view.row.id,
      fields: interfaceFields,
      tags: new Map(views.map((v) => [v.row.id, v.tags])),
      notFound: 'InvalidNetworkInterfaceID.NotFound',
    });
  }

  /** The primary interface of each of `instanceIds` that has one (terminated instances have none). */
  async ofInstances(
    accountId: string | undefined,
    instanceIds: readonly string[],
  ): Promise<Map<string, InterfaceView>> {
    if (instanceIds.length === 0) return new Map();
    const views = await this.#views(this.#deps.db, accountId, instanceIds);
    return new Map(views.map((v) => [v.row.instance_id ?? '', v]));
  }

  async #views(
    db: Kysely<Database>,
    accountId: string | undefined,
    instanceIds: readonly string[] | undefined,
  ): Promise<InterfaceView[]> {
    // Reads skip terminated instances' interfaces rather than deleting them: a Describe takes no write lock.
    let query = db
      .selectFrom('network_interfaces')
      .innerJoin('instances', 'instances.id', 'network_interfaces.instance_id')
      .where('instances.state', '!=', 'terminated')
      .innerJoin('subnets', 'subnets.id', 'network_interfaces.subnet_id')
      .innerJoin('vpcs', 'vpcs.id', 'network_interfaces.vpc_id')
      .selectAll('network_interfaces')
      .select(['subnets.cidr_block as subnet_cidr', 'vpcs.cidr_block as vpc_cidr']);
    if (accountId !== undefined) query = query.where('network_interfaces.account_id', '=', accountId);
    if (instanceIds !== undefined) query = query.where('network_interfaces.instance_id', 'in', instanceIds);
    const rows = await query.execute();
    const ids = rows.map((r) => r.id);
    const groups =
      ids.length === 0
        ? []
        : await db
            .selectFrom('network_interface_groups')
            .innerJoin('security_groups', 'security_groups.id', 'network_interface_groups.group_id')
            .select(['interface_id', 'group_id', 'name'])
            .where('interface_id', 'in', ids)
            .orderBy('position')
            .execute();
    const owner = accountId ?? rows[0]?.account_id;
    const tags =
      owner === undefined ? new Map<string, Map<string, string>>() : await this.#deps.tags.tagsOf(owner, ids);
    return rows.map(({ subnet_cidr, vpc_cidr, ...row }) => ({
      row,
      tags: tags.get(row.id) ?? new Map<string, string>(),
      groups: groups.filter((g) => g.interface_id === row.id).map((g) => ({ id: g.group_id, name: g.name })),
      vpcCidr: vpc_cidr,
      subnetCidr: subnet_cidr,
      privateDnsName: privateDnsName(this.#regions.region, row.private_ip),
    }));
  }

  /** ModifyInstanceAttribute GroupId.N: replaces the groups of the instance's primary interface. */
  async setInstanceGroups(
    accountId: string,
    instanceId: string,
    groupIds: readonly string[],
    dryRun: DryRunCheck,
  ): Promise<void> {
    if (groupIds.length === 0) throw new CloudError('MissingParameter', { name: 'GroupId' });
    const nic = (await this.ofInstances(accountId, [instanceId])).get(instanceId);
    if (nic === undefined) throw new CloudError('InvalidInstanceID.NotFound', { id: instanceId });
    const groups = await ownedGroups(this.#deps.db, accountId, groupIds);
    if (groups.length > limits.securityGroupsPerInterfaceMax) {
      throw ec2Error(
        'SecurityGroupsPerInterfaceLimitExceeded',
        'The maximum number of security groups per interface has been reached.',
      );
    }
    for (const group of groups) {
      if (group.vpc_id !== nic.row.vpc_id) {
        throw ec2Error(
          'InvalidGroup.NotFound',
          `You have specified two resources that belong to different networks.`,
        );
      }
    }
    dryRun();
    await this.#deps.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('network_interface_groups').where('interface_id', '=', nic.row.id).execute();
      const rows = [...new Set(groupIds)].map((groupId, position) => ({
        interface_id: nic.row.id,
        group_id: groupId,
        position,
      }));
      await trx.insertInto('network_interface_groups').values(rows).execute();
    });
    this.#changed();
  }

  /** Whether the instance's launch asked for a public address (AssociatePublicIpAddress or the subnet's default). */
  async wantsPublicIp(instanceId: string): Promise<boolean> {
    const row = await this.#deps.db
      .selectFrom('network_interfaces')
      .select('associate_public_ip')
      .where('instance_id', '=', instanceId)
      .where('device_index', '=', 0)
      .executeTakeFirst();
    return row?.associate_public_ip === 1;
  }
}
