// EC2 VPCs: CreateVpc, DescribeVpcs, DeleteVpc, CreateDefaultVpc and DescribeAccountAttributes. Every call
// first makes sure the caller's default VPC exists (default-vpc.ts), as AWS accounts always have one.
import type { Kysely } from 'kysely';
import { newId } from '../../base/ids.ts';
import { limits } from '../../base/limits.ts';
import type { Database } from '../../db/schema.ts';
import { nowIso } from '../../db/schema.ts';
import { CloudError, ec2Error } from '../errors.ts';
import type { FilterFields } from '../common/filters.ts';
import type { Page, Paginator } from '../common/pagination.ts';
import { tagsForResource, type TagService, type TagSpecification } from '../common/tags.ts';
import type { DryRunCheck } from '../common/dry-run.ts';
import { formatBlock, parseBlock } from './cidr-blocks.ts';
import type { DefaultVpcs } from './default-vpc.ts';
import { checkIds, describeTagged, type DescribeRequest, type Tagged } from './describe-resources.ts';
import { ownedVpc, ownsRow } from './lookups.ts';
import { insertVpc, type VpcRow } from './vpc-rows.ts';

/** A resource row with its tags. */
export type { Tagged };

/** What the networking services are built from. */
export interface VpcDeps {
  readonly db: Kysely<Database>;
  readonly paginator: Paginator;
  readonly tags: TagService;
  readonly defaults: DefaultVpcs;
}

/** CreateVpc's parameters. */
export interface CreateVpcRequest {
  readonly cidrBlock: string | undefined;
  readonly instanceTenancy: string | undefined;
  readonly tagSpecifications: readonly TagSpecification[];
  readonly dryRun: DryRunCheck;
}

const vpcFields: FilterFields<Tagged<VpcRow>> = {
  cidr: ({ row }) => row.cidr_block,
  'cidr-block-association.cidr-block': ({ row }) => row.cidr_block,
  'cidr-block-association.state': () => 'associated',
  'dhcp-options-id': () => 'default',
  'is-default': ({ row }) => row.is_default === 1,
  'owner-id': ({ row }) => row.account_id,
  state: () => 'available',
  'vpc-id': ({ row }) => row.id,
  // The camelCase names older tools send (Terraform's aws_vpc data source filters on isDefault).
  isDefault: ({ row }) => row.is_default === 1,
  vpcId: ({ row }) => row.id,
};

/** EC2's account attributes, by name; default-vpc is filled per account. */
const staticAttributes: Readonly<Record<string, readonly string[]>> = {
  'supported-platforms': ['VPC'],
  'max-instances': [String(limits.instancesPerRunMax)],
  'vpc-max-security-groups-per-interface': [String(limits.securityGroupsPerInterfaceMax)],
  'max-elastic-ips': ['5'],
  'vpc-max-elastic-ips': ['5'],
};

/** VPCs of every account; every method takes the caller's account id. */
export class VpcService {
  readonly #deps: VpcDeps;

  constructor(deps: VpcDeps) {
    this.#deps = deps;
    deps.tags.registerKind({
      prefix: 'vpc',
      resourceType: 'vpc',
      notFound: 'InvalidVpcID.NotFound',
      access: (accountId, id) => ownsRow(deps.db, 'vpcs', accountId, id),
    });
  }

  /** CreateVpc: a VPC with its main route table and default security group. */
  async create(accountId: string, request: CreateVpcRequest): Promise<Tagged<VpcRow>> {
    if (request.cidrBlock === undefined || request.cidrBlock === '')
      throw new CloudError('MissingParameter', { name: 'CidrBlock' });
    const cidr = parseBlock(request.cidrBlock, 'InvalidVpc.Range');
    const tenancy = request.instanceTenancy ?? 'default';
    if (tenancy !== 'default' && tenancy !== 'dedicated') {
      throw new CloudError('InvalidParameterValue', {
        name: 'InstanceTenancy',
        value: tenancy,
        expected: 'default or dedicated',
      });
    }
    const tags = tagsForResource(request.tagSpecifications, 'vpc');
    await this.#deps.defaults.ensure(accountId);
    const count = await this.#deps.db
      .selectFrom('vpcs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('account_id', '=', accountId)
      .executeTakeFirstOrThrow();
    if (Number(count.n) >= limits.vpcsPerAccountMax) throw new CloudError('VpcLimitExceeded');
    request.dryRun();
    const id = newId('vpc');
    const row = await this.#deps.db.transaction().execute(async (trx) => {
      const inserted = await insertVpc(trx, {
        id,
        accountId,
        cidrBlock: formatBlock(cidr),
        isDefault: false,
        instanceTenancy: tenancy,
        now: nowIso(),
      });
      await this.#deps.tags.putTags(trx, accountId, id, 'vpc', tags);
      return inserted;
    });
    return { row, tags: new Map(tags.map((t) => [t.key, t.value])) };
  }

  /** DescribeVpcs. */
  async describe(accountId: string, request: DescribeRequest): Promise<Page<Tagged<VpcRow>>> {
    checkIds(request.ids, 'vpc', 'InvalidVpcID.Malformed');
    await this.#deps.defaults.ensure(accountId);
    const rows = await this.#deps.db
      .selectFrom('vpcs')
      .selectAll()
      .where('account_id', '=', accountId)
      .execute();
    return describeTagged(this.#deps, accountId, request, rows, {
      action: 'DescribeVpcs',
      fields: vpcFields,
      notFound: 'InvalidVpcID.NotFound',
    });
  }

  /** DeleteVpc: only once its subnets, own security groups and gateways are gone, as EC2. */
  async delete(accountId: string, vpcId: string, dryRun: DryRunCheck): Promise<void> {
    const vpc = await ownedVpc(this.#deps.db, accountId, vpcId);
    const db = this.#deps.db;
    const subnet = await db.selectFrom('subnets').select('id').where('vpc_id', '=', vpcId).executeTakeFirst();
    const group = await db
      .selectFrom('security_groups')
      .select('id')
      .where('vpc_id', '=', vpcId)
      .where('name', '!=', 'default')
      .executeTakeFirst();
    const gateway = await db
      .selectFrom('internet_gateways')
      .select('id')
      .where('vpc_id', '=', vpcId)
      .executeTakeFirst();
    if (subnet !== undefined || group !== undefined || gateway !== undefined) {
      throw ec2Error('DependencyViolation', `The vpc '${vpcId}' has dependencies and cannot be deleted.`);
    }
    dryRun();
    await db.transaction().execute(async (trx) => {
      const groups = await trx
        .selectFrom('security_groups')
        .select('id')
        .where('vpc_id', '=', vpcId)
        .execute();
      const tables = await trx.selectFrom('route_tables').select('id').where('vpc_id', '=', vpcId).execute();
      for (const { id } of [...groups, ...tables, { id: vpcId }]) await this.#deps.tags.dropAll(trx, id);
      await trx.deleteFrom('security_groups').where('vpc_id', '=', vpcId).execute();
      await trx.deleteFrom('route_tables').where('vpc_id', '=', vpcId).execute();
      await trx.deleteFrom('vpcs').where('id', '=', vpcId).execute();
      if (vpc.is_default === 1)
        await trx
          .updateTable('default_vpcs')
          .set({ vpc_id: null })
          .where('account_id', '=', accountId)
          .execute();
    });
  }

  /** CreateDefaultVpc: a new default VPC once the old one was deleted. */
  async createDefault(accountId: string, dryRun: DryRunCheck): Promise<Tagged<VpcRow>> {
    const vpcId = await this.#deps.defaults.recreate(accountId, dryRun);
    return { row: await ownedVpc(this.#deps.db, accountId, vpcId), tags: new Map() };
  }

  /** DescribeAccountAttributes: `names` (all when empty) with their values. */
  async accountAttributes(
    accountId: string,
    names: readonly string[],
  ): Promise<[string, readonly string[]][]> {
    const defaultVpc = await this.#deps.defaults.ensure(accountId);
    const all: Record<string, readonly string[]> = {
      ...staticAttributes,
      'default-vpc': [defaultVpc ?? 'none'],
    };
    for (const name of names) {
      if (!Object.hasOwn(all, name)) {
        throw new CloudError('InvalidParameterValue', {
          name: 'AttributeName',
          value: name,
          expected: Object.keys(all).join(', '),
        });
      }
    }
    const wanted = names.length === 0 ? Object.keys(all) : names;
    return wanted.map((name) => [name, all[name] ?? []]);
  }
}
