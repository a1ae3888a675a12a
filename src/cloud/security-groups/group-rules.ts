// Security group rules: AuthorizeSecurityGroupIngress/Egress, RevokeSecurityGroupIngress/Egress,
// DescribeSecurityGroupRules, and the groups' rules resolved into the policy the host enforces. Every change
// tells the host (NetworkRefresh), so running instances follow without a restart.
import { limits } from '../../base/limits.ts';
import { nowIso } from '../../db/schema.ts';
import { parseIpv4 } from '../../network/frames.ts';
import { parseCidr, type InterfacePolicy, type PermissionRule } from '../../network/security-filter.ts';
import { CloudError, ec2Error } from '../errors.ts';
import type { FilterFields } from '../common/filters.ts';
import type { Page } from '../common/pagination.ts';
import { tagsForResource, type TagSpecification } from '../common/tags.ts';
import type { DryRunCheck } from '../common/dry-run.ts';
import { checkIds, describeTagged, type DescribeRequest } from '../vpc/describe-resources.ts';
import { ownsRow } from '../vpc/lookups.ts';
import type { Tagged, VpcDeps } from '../vpc/vpcs.ts';
import { groupByRef, groupsByNameIn, ownedGroups, type GroupRef } from './group-lookups.ts';
import { insertRules, type NewRule, type RuleRow, type SecurityGroupRow } from './group-rows.ts';
import { describeRule, ruleKey, rulesOf, type IpPermissionRequest, type RuleSpec } from './permissions.ts';

/** Authorize/Revoke parameters. */
export interface RuleChangeRequest {
  readonly group: GroupRef;
  readonly egress: boolean;
  readonly permissions: readonly IpPermissionRequest[];
  /** Revoke only: SecurityGroupRuleId.N instead of permissions. */
  readonly ruleIds: readonly string[];
  readonly tagSpecifications: readonly TagSpecification[];
  readonly dryRun: DryRunCheck;
}

/** What the rule service is built from: the networking deps and the host's change signal. */
export interface GroupRuleDeps extends VpcDeps {
  /** Called after rules change (NetworkRefresh.changed). */
  readonly changed: () => void;
}

const ruleFields: FilterFields<Tagged<RuleRow>> = {
  'group-id': ({ row }) => row.group_id,
  'security-group-rule-id': ({ row }) => row.id,
};

/** Rules of every account's security groups. */
export class GroupRuleService {
  readonly #deps: GroupRuleDeps;

  constructor(deps: GroupRuleDeps) {
    this.#deps = deps;
    deps.tags.registerKind({
      prefix: 'sgr',
      resourceType: 'security-group-rule',
      notFound: 'InvalidSecurityGroupRuleId.NotFound',
      access: (accountId, id) => ownsRow(deps.db, 'security_group_rules', accountId, id),
    });
  }

  /** AuthorizeSecurityGroupIngress/Egress: the new rules, with their sgr- ids. */
  async authorize(accountId: string, request: RuleChangeRequest): Promise<Tagged<RuleRow>[]> {
    const db = this.#deps.db;
    const group = await groupByRef(db, this.#deps.defaults, accountId, request.group);
    const wanted = await this.#resolve(accountId, group, rulesOf(request.permissions));
    const tags = tagsForResource(request.tagSpecifications, 'security-group-rule');
    const existing = await this.#rulesOf(group.id, request.egress);
    const seen = new Set(existing.map((r) => ruleKey(specOfRow(r))));
    for (const rule of wanted) {
      const key = ruleKey({ ...rule, referencedGroup: rule.referencedGroupId });
      if (seen.has(key)) {
        const text = describeRule({ ...rule, referencedGroup: rule.referencedGroupId });
        throw ec2Error('InvalidPermission.Duplicate', `the specified rule "${text}" already exists`);
      }
      seen.add(key);
    }
    if (seen.size > limits.securityGroupRulesPerDirectionMax)
      throw new CloudError('RulesPerSecurityGroupLimitExceeded');
    request.dryRun();
    const rows = await db.transaction().execute(async (trx) => {
      const inserted = await insertRules(trx, accountId, group.id, request.egress, wanted, nowIso());
      for (const row of inserted)
        await this.#deps.tags.putTags(trx, accountId, row.id, 'security-group-rule', tags);
      return inserted;
    });
    this.#deps.changed();
    return rows.map((row) => ({ row, tags: new Map(tags.map((t) => [t.key, t.value])) }));
  }

  /** RevokeSecurityGroupIngress/Egress, by permissions or by rule ids; every one must exist. */
  async revoke(accountId: string, request: RuleChangeRequest): Promise<RuleRow[]> {
    const group = await groupByRef(this.#deps.db, this.#deps.defaults, accountId, request.group);
    const existing = await this.#rulesOf(group.id, request.egress);
    const doomed =
      request.ruleIds.length > 0
        ? this.#byIds(existing, request.ruleIds)
        : await this.#byPermissions(accountId, group, existing, request);
    request.dryRun();
    await this.#deps.db.transaction().execute(async (trx) => {
      for (const rule of doomed) await this.#deps.tags.dropAll(trx, rule.id);
      await trx
        .deleteFrom('security_group_rules')
        .where(
          'id',
          'in',
          doomed.map((r) => r.id),
        )
        .execute();
    });
    this.#deps.changed();
    return doomed;
  }

  #byIds(existing: readonly RuleRow[], ids: readonly string[]): RuleRow[] {
    checkIds(ids, 'sgr', 'InvalidSecurityGroupRuleId.Malformed');
    return ids.map((id) => {
      const rule = existing.find((r) => r.id === id);
      if (rule === undefined) throw new CloudError('InvalidSecurityGroupRuleId.NotFound', { id });
      return rule;
    });
  }

  async #byPermissions(
    accountId: string,
    group: SecurityGroupRow,
    existing: readonly RuleRow[],
    request: RuleChangeRequest,
  ): Promise<RuleRow[]> {
    const wanted = await this.#resolve(accountId, group, rulesOf(request.permissions));
    const byKey = new Map(existing.map((r) => [ruleKey(specOfRow(r)), r]));
    return wanted.map((rule) => {
      const found = byKey.get(ruleKey({ ...rule, referencedGroup: rule.referencedGroupId }));
      if (found === undefined) throw new CloudError('InvalidPermission.NotFound');
      return found;
    });
  }

  // Group pairs name groups of the caller, by id anywhere or by name in the group's own VPC.
  async #resolve(accountId: string, group: SecurityGroupRow, rules: readonly RuleSpec[]): Promise<NewRule[]> {
    const ids = rules.flatMap((r) =>
      r.referencedGroup !== null && !r.referencedGroup.startsWith('name:') ? [r.referencedGroup] : [],
    );
    const names = rules.flatMap((r) =>
      r.referencedGroup?.startsWith('name:') === true ? [r.referencedGroup.slice(5)] : [],
    );
    const byId = await ownedGroups(this.#deps.db, accountId, [...new Set(ids)]);
    const byName = await groupsByNameIn(this.#deps.db, accountId, group.vpc_id, [...new Set(names)]);
    for (const other of byId) {
      if (other.vpc_id !== group.vpc_id) {
        throw ec2Error(
          'InvalidGroup.NotFound',
          `You have specified two resources that belong to different networks.`,
        );
      }
    }
    return rules.map(({ referencedGroup, ...rule }) => {
      if (referencedGroup === null) return { ...rule, referencedGroupId: null };
      const name = referencedGroup.startsWith('name:') ? referencedGroup.slice(5) : undefined;
      const id = name === undefined ? referencedGroup : (byName.find((g) => g.name === name)?.id ?? '');
      return { ...rule, referencedGroupId: id };
    });
  }

  #rulesOf(groupId: string, egress: boolean): Promise<RuleRow[]> {
    return this.#deps.db
      .selectFrom('security_group_rules')
      .selectAll()
      .where('group_id', '=', groupId)
      .where('is_egress', '=', egress ? 1 : 0)
      .execute();
  }

  /** DescribeSecurityGroupRules. */
  async describe(accountId: string, request: DescribeRequest): Promise<Page<Tagged<RuleRow>>> {
    checkIds(request.ids, 'sgr', 'InvalidSecurityGroupRuleId.Malformed');
    await this.#deps.defaults.ensure(accountId);
    const rows = await this.#deps.db
      .selectFrom('security_group_rules')
      .selectAll()
      .where('account_id', '=', accountId)
      .execute();
    return describeTagged(this.#deps, accountId, request, rows, {
      action: 'DescribeSecurityGroupRules',
      fields: ruleFields,
      notFound: 'InvalidSecurityGroupRuleId.NotFound',
    });
  }

  /** The rules of `groupIds`, resolved for the switch and the public forwards. */
  async policyOf(groupIds: readonly string[]): Promise<InterfacePolicy> {
    const rows =
      groupIds.length === 0
        ? []
        : await this.#deps.db
            .selectFrom('security_group_rules')
            .selectAll()
            .where('group_id', 'in', groupIds)
            .execute();
    const rules = (egress: number): PermissionRule[] =>
      rows
        .filter((r) => r.is_egress === egress)
        .flatMap((r) => {
          const rule = permissionRuleOf(r);
          return rule === undefined ? [] : [rule];
        });
    return { groupIds: [...groupIds], ingress: rules(0), egress: rules(1) };
  }
}

function specOfRow(row: RuleRow): Omit<RuleSpec, 'description'> {
  return {
    ipProtocol: row.ip_protocol,
    fromPort: row.from_port,
    toPort: row.to_port,
    cidrIpv4: row.cidr_ipv4,
    referencedGroup: row.referenced_group_id,
  };
}

// Protocols other than tcp, udp, icmp and all have no place in the switch's filter: such rules admit nothing.
function permissionRuleOf(row: RuleRow): PermissionRule | undefined {
  const cidr = row.cidr_ipv4 === null ? undefined : parseCidr(row.cidr_ipv4, parseIpv4);
  const source = {
    cidrs: cidr === undefined ? [] : [cidr],
    groupIds: row.referenced_group_id === null ? [] : [row.referenced_group_id],
  };
  switch (row.ip_protocol) {
    case '-1':
      return { protocol: 'all', fromPort: 0, toPort: 65535, ...source };
    case 'tcp':
    case 'udp':
    case 'icmp':
      return { protocol: row.ip_protocol, fromPort: row.from_port, toPort: row.to_port, ...source };
    default:
      return undefined;
  }
}
