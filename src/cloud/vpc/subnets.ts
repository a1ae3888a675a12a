// EC2 subnets: CreateSubnet (a block inside its VPC's, /16 to /28, overlapping no other subnet of the VPC),
// DescribeSubnets and DeleteSubnet (refused while network interfaces use it).
import { newId } from '../../base/ids.ts';
import { limits } from '../../base/limits.ts';
import { nowIso } from '../../db/schema.ts';
import { CloudError, ec2Error } from '../errors.ts';
import type { FilterFields } from '../common/filters.ts';
import type { Page } from '../common/pagination.ts';
import type { Regions } from '../common/regions.ts';
import { tagsForResource, type TagSpecification } from '../common/tags.ts';
import type { DryRunCheck } from '../common/dry-run.ts';
import {
  blockContains,
  blocksOverlap,
  formatBlock,
  lastAddress,
  parseBlock,
  storedBlock,
} from './cidr-blocks.ts';
import { checkIds, describeRows, type DescribeRequest } from './describe-resources.ts';
import { ownedSubnet, ownedVpc, ownsRow, releaseTerminated } from './lookups.ts';
import type { SubnetRow } from './vpc-rows.ts';
import type { Tagged, VpcDeps } from './vpcs.ts';

/** CreateSubnet's parameters. */
export interface CreateSubnetRequest {
  readonly vpcId: string | undefined;
  readonly cidrBlock: string | undefined;
  readonly zone: string | undefined;
  readonly tagSpecifications: readonly TagSpecification[];
  readonly dryRun: DryRunCheck;
}

/** A subnet with what DescribeSubnets derives: addresses still free. */
export interface SubnetView extends Tagged<SubnetRow> {
  readonly availableIpAddressCount: number;
  readonly zoneId: string;
}

const subnetFields: FilterFields<SubnetView> = {
  'availability-zone': ({ row }) => row.availability_zone,
  'availability-zone-id': (s) => s.zoneId,
  'available-ip-address-count': (s) => s.availableIpAddressCount,
  'cidr-block': ({ row }) => row.cidr_block,
  cidr: ({ row }) => row.cidr_block,
  cidrBlock: ({ row }) => row.cidr_block,
  'default-for-az': ({ row }) => row.default_for_az === 1,
  defaultForAz: ({ row }) => row.default_for_az === 1,
  'map-public-ip-on-launch': ({ row }) => row.map_public_ip_on_launch === 1,
  'owner-id': ({ row }) => row.account_id,
  state: () => 'available',
  'subnet-id': ({ row }) => row.id,
  'vpc-id': ({ row }) => row.vpc_id,
  // The camelCase names older tools send.
  availabilityZone: ({ row }) => row.availability_zone,
  subnetId: ({ row }) => row.id,
  vpcId: ({ row }) => row.vpc_id,
};

/** Subnets of every account. */
export class SubnetService {
  readonly #deps: VpcDeps;
  readonly #regions: Regions;

  constructor(deps: VpcDeps, regions: Regions) {
    this.#deps = deps;
    this.#regions = regions;
    deps.tags.registerKind({
      prefix: 'subnet',
      resourceType: 'subnet',
      notFound: 'InvalidSubnetID.NotFound',
      access: (accountId, id) => ownsRow(deps.db, 'subnets', accountId, id),
    });
  }

  /** CreateSubnet. */
  async create(accountId: string, request: CreateSubnetRequest): Promise<SubnetView> {
    if (request.vpcId === undefined || request.vpcId === '')
      throw new CloudError('MissingParameter', { name: 'VpcId' });
    if (request.cidrBlock === undefined || request.cidrBlock === '')
      throw new CloudError('MissingParameter', { name: 'CidrBlock' });
    const cidr = parseBlock(request.cidrBlock, 'InvalidSubnet.Range');
    const zone = request.zone ?? this.#regions.zones[0]?.zoneName ?? '';
    if (this.#regions.zone(zone) === undefined) {
      throw ec2Error(
        'InvalidParameterValue',
        `Value (${zone}) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: ${this.#regions.zones.map((z) => z.zoneName).join(', ')}.`,
      );
    }
    const tags = tagsForResource(request.tagSpecifications, 'subnet');
    const vpc = await ownedVpc(this.#deps.db, accountId, request.vpcId);
    if (!blockContains(storedBlock(vpc.cidr_block), cidr))
      throw new CloudError('InvalidSubnet.Range', { cidr: request.cidrBlock });
    const siblings = await this.#deps.db
      .selectFrom('subnets')
      .select('cidr_block')
      .where('vpc_id', '=', vpc.id)
      .execute();
    if (siblings.some((s) => blocksOverlap(storedBlock(s.cidr_block), cidr)))
      throw new CloudError('InvalidSubnet.Conflict', { cidr: request.cidrBlock });
    if (siblings.length >= limits.subnetsPerVpcMax) throw new CloudError('SubnetLimitExceeded');
    request.dryRun();
    const row: SubnetRow = {
      id: newId('subnet'),
      account_id: accountId,
      vpc_id: vpc.id,
      cidr_block: formatBlock(cidr),
      availability_zone: zone,
      default_for_az: 0,
      map_public_ip_on_launch: 0,
      created_at: nowIso(),
    };
    await this.#deps.db.transaction().execute(async (trx) => {
      await trx.insertInto('subnets').values(row).execute();
      await this.#deps.tags.putTags(trx, accountId, row.id, 'subnet', tags);
    });
    const [view] = await this.#views(accountId, [row]);
    return view as SubnetView;
  }

  /** DescribeSubnets. */
  async describe(accountId: string, request: DescribeRequest): Promise<Page<SubnetView>> {
    checkIds(request.ids, 'subnet', 'InvalidSubnetID.Malformed');
    await this.#deps.defaults.ensure(accountId);
    const rows = await this.#deps.db
      .selectFrom('subnets')
      .selectAll()
      .where('account_id', '=', accountId)
      .execute();
    const views = await this.#views(accountId, rows);
    return describeRows(this.#deps.paginator, {
      action: 'DescribeSubnets',
      accountId,
      request,
      rows: views,
      idOf: (view) => view.row.id,
      fields: subnetFields,
      tags: new Map(views.map((v) => [v.row.id, v.tags])),
      notFound: 'InvalidSubnetID.NotFound',
    });
  }

  async #views(accountId: string, rows: readonly SubnetRow[]): Promise<SubnetView[]> {
    const used = await this.#deps.db
      .selectFrom('network_interfaces')
      .innerJoin('instances', 'instances.id', 'network_interfaces.instance_id')
      .select(['subnet_id', (eb) => eb.fn.countAll<number>().as('n')])
      .where('network_interfaces.account_id', '=', accountId)
      .where('instances.state', '!=', 'terminated')
      .groupBy('subnet_id')
      .execute();
    const usedBy = new Map(used.map((u) => [u.subnet_id, Number(u.n)]));
    const tags = await this.#deps.tags.tagsOf(
      accountId,
      rows.map((r) => r.id),
    );
    return rows.map((row) => {
      const cidr = storedBlock(row.cidr_block);
      // EC2 keeps five addresses of every subnet: network, router, DNS, one reserved, broadcast.
      const size = lastAddress(cidr) - cidr.network + 1 - 5;
      return {
        row,
        tags: tags.get(row.id) ?? new Map<string, string>(),
        availableIpAddressCount: size - (usedBy.get(row.id) ?? 0),
        zoneId: this.#regions.zone(row.availability_zone)?.zoneId ?? '',
      };
    });
  }

  /** DeleteSubnet: refused while network interfaces (instances) use it. */
  async delete(accountId: string, subnetId: string, dryRun: DryRunCheck): Promise<void> {
    await ownedSubnet(this.#deps.db, accountId, subnetId);
    await releaseTerminated(this.#deps.db);
    const user = await this.#deps.db
      .selectFrom('network_interfaces')
      .select('id')
      .where('subnet_id', '=', subnetId)
      .executeTakeFirst();
    if (user !== undefined)
      throw ec2Error(
        'DependencyViolation',
        `The subnet '${subnetId}' has dependencies and cannot be deleted.`,
      );
    dryRun();
    await this.#deps.db.transaction().execute(async (trx) => {
      await this.#deps.tags.dropAll(trx, subnetId);
      await trx.deleteFrom('subnets').where('id', '=', subnetId).execute();
    });
  }
}
