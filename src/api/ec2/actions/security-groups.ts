// EC2 security group actions: Create/Describe/DeleteSecurityGroup, Authorize/RevokeSecurityGroupIngress
// and Egress, DescribeSecurityGroupRules. The semantics live in cloud/security-groups/; this file reads
// parameters (IpPermissions.N, or the legacy flat IpProtocol/FromPort/ToPort/CidrIp) and shapes EC2's XML.
import { CloudError, ec2Error } from '../../../cloud/errors.ts';
import type { SecurityGroupView } from '../../../cloud/security-groups/security-groups.ts';
import type { RuleRow } from '../../../cloud/security-groups/group-rows.ts';
import type { GroupRef } from '../../../cloud/security-groups/group-lookups.ts';
import { groupPermissions, type IpPermissionRequest } from '../../../cloud/security-groups/permissions.ts';
import type { RuleChangeRequest } from '../../../cloud/security-groups/group-rules.ts';
import type { Tagged } from '../../../cloud/vpc/vpcs.ts';
import { defineAction } from '../action.ts';
import type { XmlObject } from '../xml.ts';
import type { QueryParams } from '../query-params.ts';
import { checkDryRun, dryRunCheck } from '../dry-run.ts';
import { tagSet } from './volumes.ts';
import { describeRequest } from './vpcs.ts';

function permissionsXml(rules: readonly RuleRow[], ownerId: string): XmlObject[] {
  const views = rules.map((r) => ({
    ipProtocol: r.ip_protocol,
    fromPort: r.from_port,
    toPort: r.to_port,
    cidrIpv4: r.cidr_ipv4,
    referencedGroupId: r.referenced_group_id,
    description: r.description,
  }));
  return groupPermissions(views).map((p) => ({
    ipProtocol: p.ipProtocol,
    fromPort: p.ipProtocol === '-1' ? undefined : p.fromPort,
    toPort: p.ipProtocol === '-1' ? undefined : p.toPort,
    groups: p.groupIds.map((g) => ({
      userId: ownerId,
      groupId: g.groupId,
      description: g.description || undefined,
    })),
    ipRanges: p.ipRanges.map((r) => ({ cidrIp: r.cidrIp, description: r.description || undefined })),
    ipv6Ranges: [],
    prefixListIds: [],
  }));
}

function groupArn(region: string, accountId: string, groupId: string): string {
  return `arn:aws:ec2:${region}:${accountId}:security-group/${groupId}`;
}

function securityGroupXml(group: SecurityGroupView, region: string): XmlObject {
  const { row, tags } = group;
  return {
    ownerId: row.account_id,
    groupId: row.id,
    groupName: row.name,
    groupDescription: row.description,
    ipPermissions: permissionsXml(group.ingress, row.account_id),
    ipPermissionsEgress: permissionsXml(group.egress, row.account_id),
    vpcId: row.vpc_id,
    securityGroupArn: groupArn(region, row.account_id, row.id),
    tagSet: tags.size > 0 ? tagSet(tags) : undefined,
  };
}

function ruleXml({ row, tags }: Tagged<RuleRow>): XmlObject {
  return {
    securityGroupRuleId: row.id,
    groupId: row.group_id,
    groupOwnerId: row.account_id,
    isEgress: row.is_egress === 1,
    ipProtocol: row.ip_protocol,
    fromPort: row.from_port,
    toPort: row.to_port,
    cidrIpv4: row.cidr_ipv4,
    referencedGroupInfo:
      row.referenced_group_id === null
        ? undefined
        : { groupId: row.referenced_group_id, userId: row.account_id },
    description: row.description || undefined,
    tagSet: tagSet(tags),
  };
}

function groupRef(params: QueryParams): GroupRef {
  return {
    groupId: params.string('GroupId') || undefined,
    groupName: params.string('GroupName') || undefined,
  };
}

function permissionOf(p: QueryParams): IpPermissionRequest {
  if (p.structList('Ipv6Ranges').length > 0 || p.structList('PrefixListIds').length > 0) {
    throw ec2Error(
      'UnsupportedOperation',
      'IPv6 ranges and prefix lists are not supported in security group rules.',
    );
  }
  return {
    ipProtocol: p.string('IpProtocol'),
    fromPort: p.int('FromPort', { min: -1, max: 65535 }),
    toPort: p.int('ToPort', { min: -1, max: 65535 }),
    ipRanges: p
      .structList('IpRanges')
      .map((r) => ({ cidrIp: r.requiredString('CidrIp'), description: r.string('Description') })),
    groupPairs: p.structList('Groups').map((g) => ({
      groupId: g.string('GroupId') || undefined,
      groupName: g.string('GroupName') || undefined,
      description: g.string('Description'),
    })),
  };
}

// The flat form (IpProtocol, FromPort, ToPort, CidrIp, SourceSecurityGroupName) older clients send.
function flatPermission(params: QueryParams): IpPermissionRequest | undefined {
  const cidrIp = params.string('CidrIp');
  const source = params.string('SourceSecurityGroupName');
  const protocol = params.string('IpProtocol');
  if (cidrIp === undefined && source === undefined && protocol === undefined) return undefined;
  return {
    ipProtocol: protocol ?? (source !== undefined ? '-1' : undefined),
    fromPort: params.int('FromPort', { min: -1, max: 65535 }),
    toPort: params.int('ToPort', { min: -1, max: 65535 }),
    ipRanges: cidrIp === undefined ? [] : [{ cidrIp, description: undefined }],
    groupPairs:
      source === undefined ? [] : [{ groupId: undefined, groupName: source, description: undefined }],
  };
}

function ruleChange(
  params: QueryParams,
  egress: boolean,
  ctxDryRun: RuleChangeRequest['dryRun'],
): RuleChangeRequest {
  const listed = params.structList('IpPermissions').map(permissionOf);
  const flat = flatPermission(params);
  if (flat !== undefined && listed.length > 0) {
    throw ec2Error(
      'InvalidParameterCombination',
      'The parameter IpPermissions cannot be used with the parameters CidrIp, IpProtocol, FromPort, ToPort or SourceSecurityGroupName',
    );
  }
  return {
    group: groupRef(params),
    egress,
    permissions: flat === undefined ? listed : [flat],
    ruleIds: params.list('SecurityGroupRuleId'),
    tagSpecifications: params.tagSpecifications(),
    dryRun: ctxDryRun,
  };
}

const ruleParams = [
  'GroupId',
  'GroupName',
  'IpPermissions.N',
  'IpProtocol',
  'FromPort',
  'ToPort',
  'CidrIp',
  'SourceSecurityGroupName',
] as const;

/** EC2 CreateSecurityGroup. */
export const createSecurityGroup = defineAction({
  name: 'CreateSecurityGroup',
  params: ['GroupName', 'GroupDescription', 'VpcId', 'TagSpecification.N', 'DryRun'],
  async run(ctx, params) {
    const group = await ctx.cloud.vpc.groups.create(ctx.accountId, {
      groupName: params.string('GroupName'),
      description: params.string('GroupDescription'),
      vpcId: params.string('VpcId'),
      tagSpecifications: params.tagSpecifications(),
      dryRun: dryRunCheck(ctx, params),
    });
    const { row, tags } = group;
    return {
      return: true,
      groupId: row.id,
      securityGroupArn: groupArn(ctx.cloud.regions.region, row.account_id, row.id),
      tagSet: tags.size > 0 ? tagSet(tags) : undefined,
    };
  },
});

/** EC2 DescribeSecurityGroups. */
export const describeSecurityGroups = defineAction({
  name: 'DescribeSecurityGroups',
  params: ['GroupId.N', 'GroupName.N', 'Filter.N', 'MaxResults', 'NextToken', 'DryRun'],
  async run(ctx, params) {
    const { ids, ...rest } = describeRequest(params, 'GroupId');
    checkDryRun(ctx, params);
    const page = await ctx.cloud.vpc.groups.describe(ctx.accountId, {
      ...rest,
      groupIds: ids,
      groupNames: params.list('GroupName'),
    });
    const region = ctx.cloud.regions.region;
    return {
      securityGroupInfo: page.items.map((g) => securityGroupXml(g, region)),
      nextToken: page.nextToken,
    };
  },
});

/** EC2 DeleteSecurityGroup. */
export const deleteSecurityGroup = defineAction({
  name: 'DeleteSecurityGroup',
  params: ['GroupId', 'GroupName', 'DryRun'],
  async run(ctx, params) {
    const ref = groupRef(params);
    await ctx.cloud.vpc.groups.delete(ctx.accountId, ref, dryRunCheck(ctx, params));
    return { return: true, groupId: ref.groupId };
  },
});

function authorizeAction(name: string, egress: boolean): ReturnType<typeof defineAction> {
  return defineAction({
    name,
    params: [...ruleParams, 'TagSpecification.N', 'DryRun'],
    status: 'partial',
    notes: 'IPv4 ranges and group pairs of the same account; no IPv6 ranges or prefix lists',
    async run(ctx, params) {
      const rules = await ctx.cloud.vpc.rules.authorize(
        ctx.accountId,
        ruleChange(params, egress, dryRunCheck(ctx, params)),
      );
      return { return: true, securityGroupRuleSet: rules.map(ruleXml) };
    },
  });
}

function revokeAction(name: string, egress: boolean): ReturnType<typeof defineAction> {
  return defineAction({
    name,
    params: [...ruleParams, 'SecurityGroupRuleId.N', 'DryRun'],
    async run(ctx, params) {
      const request = ruleChange(params, egress, dryRunCheck(ctx, params));
      if (request.permissions.length === 0 && request.ruleIds.length === 0) {
        throw new CloudError('MissingParameter', { name: 'IpPermissions' });
      }
      const revoked = await ctx.cloud.vpc.rules.revoke(ctx.accountId, request);
      return {
        return: true,
        revokedSecurityGroupRuleSet: revoked.map((r) => ({
          securityGroupRuleId: r.id,
          groupId: r.group_id,
          isEgress: r.is_egress === 1,
        })),
      };
    },
  });
}

/** EC2 AuthorizeSecurityGroupIngress. */
export const authorizeSecurityGroupIngress = authorizeAction('AuthorizeSecurityGroupIngress', false);
/** EC2 AuthorizeSecurityGroupEgress. */
export const authorizeSecurityGroupEgress = authorizeAction('AuthorizeSecurityGroupEgress', true);
/** EC2 RevokeSecurityGroupIngress. */
export const revokeSecurityGroupIngress = revokeAction('RevokeSecurityGroupIngress', false);
/** EC2 RevokeSecurityGroupEgress. */
export const revokeSecurityGroupEgress = revokeAction('RevokeSecurityGroupEgress', true);

/** EC2 DescribeSecurityGroupRules. */
export const describeSecurityGroupRules = defineAction({
  name: 'DescribeSecurityGroupRules',
  params: ['SecurityGroupRuleId.N', 'Filter.N', 'MaxResults', 'NextToken', 'DryRun'],
  async run(ctx, params) {
    const request = describeRequest(params, 'SecurityGroupRuleId');
    checkDryRun(ctx, params);
    const page = await ctx.cloud.vpc.rules.describe(ctx.accountId, request);
    return { securityGroupRuleSet: page.items.map(ruleXml), nextToken: page.nextToken };
  },
});

/** Every security group action, for the registry. */
export const securityGroupActions = [
  createSecurityGroup,
  describeSecurityGroups,
  deleteSecurityGroup,
  authorizeSecurityGroupIngress,
  authorizeSecurityGroupEgress,
  revokeSecurityGroupIngress,
  revokeSecurityGroupEgress,
  describeSecurityGroupRules,
] as const;
