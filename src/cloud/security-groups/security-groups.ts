// EC2 security groups: CreateSecurityGroup, DescribeSecurityGroups and DeleteSecurityGroup. Their rules
// (Authorize/Revoke, DescribeSecurityGroupRules, the resolved policy the host enforces) are in group-rules.ts.
import { limits } from '../../base/limits.ts';
import { nowIso } from '../../db/schema.ts';
import { CloudError, ec2Error } from '../errors.ts';
import type { Filter, FilterFields } from '../common/filters.ts';
import type { Page } from '../common/pagination.ts';
import { tagsForResource, type TagSpecification } from '../common/tags.ts';
import type { DryRunCheck } from '../common/dry-run.ts';
import { describeRows } from '../vpc/describe-resources.ts';
import { ownedVpc, ownsRow, releaseTerminated } from '../vpc/lookups.ts';
import type { Tagged, VpcDeps } from '../vpc/vpcs.ts';
import { checkGroupIds, groupByRef, groupsByName, type GroupRef } from './group-lookups.ts';
import { insertGroup, type RuleRow, type SecurityGroupRow } from './group-rows.ts';

/** A group with its rules. */
export interface SecurityGroupView extends Tagged<SecurityGroupRow> {
  readonly ingress: readonly RuleRow[];
  readonly egress: readonly RuleRow[];
}

/** CreateSecurityGroup's parameters. */
export interface CreateGroupRequest {
  readonly groupName: string | undefined;
  readonly description: string | undefined;
  readonly vpcId: string | undefined;
  readonly tagSpecifications: readonly TagSpecification[];
  readonly dryRun: DryRunCheck;
}

/** DescribeSecurityGroups' parameters. */
export interface DescribeGroupsRequest {
  readonly groupIds: readonly string[];
  readonly groupNames: readonly string[];
  readonly filters: readonly Filter[];
  readonly maxResults: number | undefined;
  readonly nextToken: string | undefined;
}

function ruleValues(rules: readonly RuleRow[], pick: (rule: RuleRow) => string | number | null): string[] {
  return rules
    .map(pick)
    .filter((v): v is string | number => v !== null)
    .map(String);
}

const permissionFields = (
  direction: 'ingress' | 'egress',
  prefix: string,
): FilterFields<SecurityGroupView> => ({
  [`${prefix}cidr`]: (g) => ruleValues(g[direction], (r) => r.cidr_ipv4),
  [`${prefix}from-port`]: (g) => ruleValues(g[direction], (r) => r.from_port),
  [`${prefix}to-port`]: (g) => ruleValues(g[direction], (r) => r.to_port),
  [`${prefix}protocol`]: (g) => ruleValues(g[direction], (r) => r.ip_protocol),
  [`${prefix}group-id`]: (g) => ruleValues(g[direction], (r) => r.referenced_group_id),
});

const groupFields: FilterFields<SecurityGroupView> = {
  description: ({ row }) => row.description,
  'group-id': ({ row }) => row.id,
  'group-name': ({ row }) => row.name,
  'owner-id': ({ row }) => row.account_id,
  'vpc-id': ({ row }) => row.vpc_id,
  ...permissionFields('ingress', 'ip-permission.'),
  ...permissionFields('egress', 'egress.ip-permission.'),
};

/** Security groups of every account. */
export class SecurityGroupService {
  readonly #deps: VpcDeps;

  constructor(deps: VpcDeps) {
    this.#deps = deps;
    deps.tags.registerKind({
      prefix: 'sg',
      resourceType: 'security-group',
      notFound: 'InvalidGroup.NotFound',
      access: (accountId, id) => ownsRow(deps.db, 'security_groups', accountId, id),
    });
  }

  /** CreateSecurityGroup: in `vpcId`, or the default VPC. */
  async create(accountId: string, request: CreateGroupRequest): Promise<SecurityGroupView> {
    const name = request.groupName ?? '';
    const description = request.description ?? '';
    if (name === '') throw new CloudError('MissingParameter', { name: 'GroupName' });
    if (description === '') throw new CloudError('MissingParameter', { name: 'GroupDescription' });
    checkGroupText(name, 'GroupName');
    checkGroupText(description, 'GroupDescription');
    if (name.startsWith('sg-'))
      throw ec2Error('InvalidParameterValue', 'Group names may not be in the format sg-*.');
    if (name === 'default') throw new CloudError('InvalidGroup.Reserved', { name });
    const tags = tagsForResource(request.tagSpecifications, 'security-group');
    const vpcId = await this.#targetVpc(accountId, request.vpcId);
    const db = this.#deps.db;
    const existing = await db
      .selectFrom('security_groups')
      .select(['id', 'name'])
      .where('vpc_id', '=', vpcId)
      .execute();
    if (existing.some((g) => g.name === name))
      throw new CloudError('InvalidGroup.Duplicate', { name, vpcId });
    if (existing.length >= limits.securityGroupsPerVpcMax) throw new CloudError('SecurityGroupLimitExceeded');
    request.dryRun();
    const row = await db.transaction().execute(async (trx) => {
      const inserted = await insertGroup(trx, accountId, vpcId, name, description, nowIso());
      await this.#deps.tags.putTags(trx, accountId, inserted.id, 'security-group', tags);
      return inserted;
    });
    const [view] = await this.#views(accountId, [row]);
    return view as SecurityGroupView;
  }

  async #targetVpc(accountId: string, vpcId: string | undefined): Promise<string> {
    if (vpcId !== undefined && vpcId !== '') return (await ownedVpc(this.#deps.db, accountId, vpcId)).id;
    const defaultVpc = await this.#deps.defaults.ensure(accountId);
    if (defaultVpc === undefined) throw new CloudError('VPCIdNotSpecified');
    return defaultVpc;
  }

  /** DescribeSecurityGroups: by id, by name (default VPC), and filters. */
  async describe(accountId: string, request: DescribeGroupsRequest): Promise<Page<SecurityGroupView>> {
    checkGroupIds(request.groupIds);
    await this.#deps.defaults.ensure(accountId);
    const named = await groupsByName(this.#deps.db, this.#deps.defaults, accountId, request.groupNames);
    const ids = [...request.groupIds, ...named.map((g) => g.id)];
    const rows = await this.#deps.db
      .selectFrom('security_groups')
      .selectAll()
      .where('account_id', '=', accountId)
      .execute();
    const views = await this.#views(accountId, rows);
    return describeRows(this.#deps.paginator, {
      action: 'DescribeSecurityGroups',
      accountId,
      request: { ...request, ids: [...new Set(ids)] },
      rows: views,
      idOf: (view) => view.row.id,
      fields: groupFields,
      tags: new Map(views.map((v) => [v.row.id, v.tags])),
      notFound: 'InvalidGroup.NotFound',
    });
  }

  async #views(accountId: string, rows: readonly SecurityGroupRow[]): Promise<SecurityGroupView[]> {
    const ids = rows.map((r) => r.id);
    const rules =
      ids.length === 0
        ? []
        : await this.#deps.db
            .selectFrom('security_group_rules')
            .selectAll()
            .where('group_id', 'in', ids)
            .orderBy('created_at')
            .orderBy('id')
            .execute();
    const tags = await this.#deps.tags.tagsOf(accountId, ids);
    return rows.map((row) => ({
      row,
      tags: tags.get(row.id) ?? new Map<string, string>(),
      ingress: rules.filter((r) => r.group_id === row.id && r.is_egress === 0),
      egress: rules.filter((r) => r.group_id === row.id && r.is_egress === 1),
    }));
  }

  /** DeleteSecurityGroup: not the default group, not while an instance or another group's rule uses it. */
  async delete(accountId: string, ref: GroupRef, dryRun: DryRunCheck): Promise<void> {
    const db = this.#deps.db;
    const group = await groupByRef(db, this.#deps.defaults, accountId, ref);
    if (group.name === 'default') {
      throw ec2Error(
        'CannotDelete',
        `the specified group: "${group.id}" name: "default" cannot be deleted by a user`,
      );
    }
    await releaseTerminated(db);
    const member = await db
      .selectFrom('network_interface_groups')
      .select('interface_id')
      .where('group_id', '=', group.id)
      .executeTakeFirst();
    const referrer = await db
      .selectFrom('security_group_rules')
      .select('group_id')
      .where('referenced_group_id', '=', group.id)
      .where('group_id', '!=', group.id)
      .executeTakeFirst();
    if (member !== undefined || referrer !== undefined) {
      throw ec2Error('DependencyViolation', `resource ${group.id} has a dependent object`);
    }
    dryRun();
    await db.transaction().execute(async (trx) => {
      const rules = await trx
        .selectFrom('security_group_rules')
        .select('id')
        .where('group_id', '=', group.id)
        .execute();
      for (const { id } of [...rules, { id: group.id }]) await this.#deps.tags.dropAll(trx, id);
      await trx.deleteFrom('security_group_rules').where('group_id', '=', group.id).execute();
      await trx.deleteFrom('security_groups').where('id', '=', group.id).execute();
    });
  }
}

// EC2: up to 255 characters of a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*
function checkGroupText(value: string, name: string): void {
  if (value.length > 255 || !/^[a-zA-Z0-9. _\-:/()#,@[\]+=&;{}!$*]*$/.test(value)) {
    throw new CloudError('InvalidParameterValue', {
      name,
      value,
      expected: 'up to 255 characters of a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*',
    });
  }
}
