// Route tables and internet gateways. Route tables are read-only here: each VPC has its main table with the
// local route, and a default route (0.0.0.0/0) to the internet gateway while one is attached (the default
// VPC's is). Gateways can be created, attached, detached and deleted, so a VPC (even the default one) can be
// emptied and deleted as in EC2.
import { newId } from '../../base/ids.ts';
import { nowIso } from '../../db/schema.ts';
import { CloudError, ec2Error } from '../errors.ts';
import type { FilterFields } from '../common/filters.ts';
import type { Page } from '../common/pagination.ts';
import { tagsForResource, type TagSpecification } from '../common/tags.ts';
import type { DryRunCheck } from '../common/dry-run.ts';
import { isValidId } from '../../base/ids.ts';
import { checkIds, describeRows, describeTagged, type DescribeRequest } from './describe-resources.ts';
import { ownedVpc, ownsRow } from './lookups.ts';
import type { InternetGatewayRow, RouteTableRow } from './vpc-rows.ts';
import type { Tagged, VpcDeps } from './vpcs.ts';

/** A route table with its VPC's block (the local route's destination). */
export interface RouteTableView extends Tagged<RouteTableRow> {
  readonly vpcCidr: string;
}

const routeTableFields: FilterFields<RouteTableView> = {
  'association.main': ({ row }) => row.is_main === 1,
  'owner-id': ({ row }) => row.account_id,
  'route-table-id': ({ row }) => row.id,
  'route.destination-cidr-block': (t) => (t.row.gateway_id === null ? [t.vpcCidr] : [t.vpcCidr, '0.0.0.0/0']),
  'route.gateway-id': (t) => (t.row.gateway_id === null ? ['local'] : ['local', t.row.gateway_id]),
  'vpc-id': ({ row }) => row.vpc_id,
};

const gatewayFields: FilterFields<Tagged<InternetGatewayRow>> = {
  'attachment.state': ({ row }) => (row.vpc_id === null ? undefined : 'available'),
  'attachment.vpc-id': ({ row }) => row.vpc_id,
  'internet-gateway-id': ({ row }) => row.id,
  'owner-id': ({ row }) => row.account_id,
};

/** Route tables and internet gateways of every account. */
export class GatewayService {
  readonly #deps: VpcDeps;

  constructor(deps: VpcDeps) {
    this.#deps = deps;
    const kinds = [
      {
        prefix: 'rtb',
        resourceType: 'route-table',
        notFound: 'InvalidRouteTableID.NotFound',
        table: 'route_tables',
      },
      {
        prefix: 'igw',
        resourceType: 'internet-gateway',
        notFound: 'InvalidInternetGatewayID.NotFound',
        table: 'internet_gateways',
      },
    ] as const;
    for (const { table, ...kind } of kinds) {
      deps.tags.registerKind({ ...kind, access: (accountId, id) => ownsRow(deps.db, table, accountId, id) });
    }
  }

  /** DescribeRouteTables. */
  async describeRouteTables(accountId: string, request: DescribeRequest): Promise<Page<RouteTableView>> {
    checkIds(request.ids, 'rtb', 'InvalidRouteTableID.Malformed');
    await this.#deps.defaults.ensure(accountId);
    const rows = await this.#deps.db
      .selectFrom('route_tables')
      .innerJoin('vpcs', 'vpcs.id', 'route_tables.vpc_id')
      .selectAll('route_tables')
      .select('vpcs.cidr_block')
      .where('route_tables.account_id', '=', accountId)
      .execute();
    const tags = await this.#deps.tags.tagsOf(
      accountId,
      rows.map((r) => r.id),
    );
    const views = rows.map(({ cidr_block, ...row }) => ({
      row,
      vpcCidr: cidr_block,
      tags: tags.get(row.id) ?? new Map<string, string>(),
    }));
    return describeRows(this.#deps.paginator, {
      action: 'DescribeRouteTables',
      accountId,
      request,
      rows: views,
      idOf: (view) => view.row.id,
      fields: routeTableFields,
      tags,
      notFound: 'InvalidRouteTableID.NotFound',
    });
  }

  /** DescribeInternetGateways. */
  async describeGateways(
    accountId: string,
    request: DescribeRequest,
  ): Promise<Page<Tagged<InternetGatewayRow>>> {
    checkIds(request.ids, 'igw', 'InvalidInternetGatewayID.Malformed');
    await this.#deps.defaults.ensure(accountId);
    const rows = await this.#deps.db
      .selectFrom('internet_gateways')
      .selectAll()
      .where('account_id', '=', accountId)
      .execute();
    return describeTagged(this.#deps, accountId, request, rows, {
      action: 'DescribeInternetGateways',
      fields: gatewayFields,
      notFound: 'InvalidInternetGatewayID.NotFound',
    });
  }

  /** CreateInternetGateway: a detached gateway. */
  async createGateway(
    accountId: string,
    specs: readonly TagSpecification[],
    dryRun: DryRunCheck,
  ): Promise<Tagged<InternetGatewayRow>> {
    const tags = tagsForResource(specs, 'internet-gateway');
    dryRun();
    const row: InternetGatewayRow = {
      id: newId('igw'),
      account_id: accountId,
      vpc_id: null,
      created_at: nowIso(),
    };
    await this.#deps.db.transaction().execute(async (trx) => {
      await trx.insertInto('internet_gateways').values(row).execute();
      await this.#deps.tags.putTags(trx, accountId, row.id, 'internet-gateway', tags);
    });
    return { row, tags: new Map(tags.map((t) => [t.key, t.value])) };
  }

  async #ownedGateway(accountId: string, gatewayId: string): Promise<InternetGatewayRow> {
    if (!isValidId(gatewayId, 'igw'))
      throw new CloudError('InvalidInternetGatewayID.Malformed', { id: gatewayId });
    const row = await this.#deps.db
      .selectFrom('internet_gateways')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('id', '=', gatewayId)
      .executeTakeFirst();
    if (row === undefined) throw new CloudError('InvalidInternetGatewayID.NotFound', { id: gatewayId });
    return row;
  }

  /** AttachInternetGateway: one gateway per VPC; the main route table gains the default route. */
  async attach(accountId: string, gatewayId: string, vpcId: string, dryRun: DryRunCheck): Promise<void> {
    const gateway = await this.#ownedGateway(accountId, gatewayId);
    await ownedVpc(this.#deps.db, accountId, vpcId);
    if (gateway.vpc_id !== null)
      throw ec2Error(
        'Resource.AlreadyAssociated',
        `resource ${gatewayId} is already attached to network ${gateway.vpc_id}`,
      );
    const other = await this.#deps.db
      .selectFrom('internet_gateways')
      .select('id')
      .where('vpc_id', '=', vpcId)
      .executeTakeFirst();
    if (other !== undefined)
      throw ec2Error(
        'Resource.AlreadyAssociated',
        `Network ${vpcId} already has an internet gateway attached`,
      );
    dryRun();
    await this.#deps.db.transaction().execute(async (trx) => {
      await trx.updateTable('internet_gateways').set({ vpc_id: vpcId }).where('id', '=', gatewayId).execute();
      await trx
        .updateTable('route_tables')
        .set({ gateway_id: gatewayId })
        .where('vpc_id', '=', vpcId)
        .where('is_main', '=', 1)
        .execute();
    });
  }

  /** DetachInternetGateway: the default route goes with it. */
  async detach(accountId: string, gatewayId: string, vpcId: string, dryRun: DryRunCheck): Promise<void> {
    const gateway = await this.#ownedGateway(accountId, gatewayId);
    await ownedVpc(this.#deps.db, accountId, vpcId);
    if (gateway.vpc_id !== vpcId) throw new CloudError('Gateway.NotAttached', { gatewayId, vpcId });
    dryRun();
    await this.#deps.db.transaction().execute(async (trx) => {
      await trx.updateTable('internet_gateways').set({ vpc_id: null }).where('id', '=', gatewayId).execute();
      await trx
        .updateTable('route_tables')
        .set({ gateway_id: null })
        .where('gateway_id', '=', gatewayId)
        .execute();
    });
  }

  /** DeleteInternetGateway: only once detached. */
  async deleteGateway(accountId: string, gatewayId: string, dryRun: DryRunCheck): Promise<void> {
    const gateway = await this.#ownedGateway(accountId, gatewayId);
    if (gateway.vpc_id !== null) {
      throw ec2Error(
        'DependencyViolation',
        `The internetGateway '${gatewayId}' has dependencies and cannot be deleted.`,
      );
    }
    dryRun();
    await this.#deps.db.transaction().execute(async (trx) => {
      await this.#deps.tags.dropAll(trx, gatewayId);
      await trx.deleteFrom('internet_gateways').where('id', '=', gatewayId).execute();
    });
  }
}
