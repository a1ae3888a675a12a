// IpPermissions, EC2's way of writing security group rules: parsing a request's permissions into one rule per
// source (a CIDR or a group), EC2's checks and wording, and the reverse (rows grouped back into permissions).
import { limits } from '../../base/limits.ts';
import { parseIpv4 } from '../../network/frames.ts';
import { parseCidr } from '../../network/security-filter.ts';
import { CloudError, ec2Error } from '../errors.ts';

/** One IpPermission as a request carries it. */
export interface IpPermissionRequest {
  readonly ipProtocol: string | undefined;
  readonly fromPort: number | undefined;
  readonly toPort: number | undefined;
  readonly ipRanges: readonly { readonly cidrIp: string; readonly description: string | undefined }[];
  readonly groupPairs: readonly {
    readonly groupId: string | undefined;
    readonly groupName: string | undefined;
    readonly description: string | undefined;
  }[];
}

/** One rule: a protocol, a port range and one source, as a rule row holds it. */
export interface RuleSpec {
  /** `tcp`, `udp`, `icmp`, `-1` or another protocol number. */
  readonly ipProtocol: string;
  readonly fromPort: number;
  readonly toPort: number;
  readonly cidrIpv4: string | null;
  /** A group id, or a group name still to resolve (`name:` prefix) in the group's VPC. */
  readonly referencedGroup: string | null;
  readonly description: string;
}

/** A rule's identity: two rules with the same key are duplicates. */
export function ruleKey(rule: Omit<RuleSpec, 'description'>): string {
  return [rule.ipProtocol, rule.fromPort, rule.toPort, rule.cidrIpv4 ?? '', rule.referencedGroup ?? ''].join(
    '|',
  );
}

const protocolNames: Readonly<Record<string, string>> = {
  tcp: 'tcp',
  '6': 'tcp',
  udp: 'udp',
  '17': 'udp',
  icmp: 'icmp',
  '1': 'icmp',
  '-1': '-1',
  all: '-1',
};

/** EC2's protocol name for a request value: tcp/udp/icmp/-1 (numbers 6/17/1 too), other numbers as given. */
export function normalProtocol(value: string | undefined): string {
  if (value === undefined || value === '') throw new CloudError('MissingParameter', { name: 'IpProtocol' });
  const known = protocolNames[value.toLowerCase()];
  if (known !== undefined) return known;
  if (/^[0-9]{1,3}$/.test(value) && Number(value) <= 255) return String(Number(value));
  throw ec2Error('InvalidParameterValue', `Invalid value '${value}' for IP protocol. Unknown protocol.`);
}

function portRange(protocol: string, from: number | undefined, to: number | undefined): [number, number] {
  if (protocol === 'tcp' || protocol === 'udp') {
    if (from === undefined || to === undefined) {
      throw ec2Error(
        'InvalidParameterValue',
        `Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange`,
      );
    }
    if (from < 0 || to > 65535 || from > to) {
      throw ec2Error('InvalidParameterValue', `Invalid ${protocol.toUpperCase()} port range ${from}-${to}.`);
    }
    return [from, to];
  }
  if (protocol === 'icmp') {
    const type = from ?? -1;
    const code = to ?? -1;
    if (type < -1 || type > 255 || code < -1 || code > 255) {
      throw ec2Error('InvalidParameterValue', `Invalid value for ICMP type (${type}) or code (${code}).`);
    }
    return [type, code];
  }
  return [-1, -1];
}

function checkDescription(description: string | undefined): string {
  const text = description ?? '';
  if (text.length > 255 || !/^[a-zA-Z0-9. _\-:/()#,@[\]+=&;{}!$*]*$/.test(text)) {
    throw ec2Error(
      'InvalidParameterValue',
      'Invalid rule description. Valid descriptions are strings less than 256 characters from the following set:  a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*',
    );
  }
  return text;
}

/** One rule per source of each permission, checked as EC2 does; at least one permission is required. */
export function rulesOf(permissions: readonly IpPermissionRequest[]): RuleSpec[] {
  if (permissions.length === 0) throw new CloudError('MissingParameter', { name: 'IpPermissions' });
  const rules: RuleSpec[] = [];
  for (const permission of permissions) {
    const ipProtocol = normalProtocol(permission.ipProtocol);
    const [fromPort, toPort] = portRange(ipProtocol, permission.fromPort, permission.toPort);
    const base = { ipProtocol, fromPort, toPort };
    if (permission.ipRanges.length === 0 && permission.groupPairs.length === 0) {
      throw ec2Error(
        'InvalidPermission.Malformed',
        'The IP permission has no source: give IpRanges or UserIdGroupPairs.',
      );
    }
    for (const range of permission.ipRanges) {
      if (parseCidr(range.cidrIp, parseIpv4) === undefined) {
        throw ec2Error('InvalidPermission.Malformed', `CIDR block ${range.cidrIp} is malformed`);
      }
      const description = checkDescription(range.description);
      rules.push({ ...base, cidrIpv4: range.cidrIp, referencedGroup: null, description });
    }
    for (const pair of permission.groupPairs) {
      const reference = pair.groupId ?? (pair.groupName === undefined ? undefined : `name:${pair.groupName}`);
      if (reference === undefined || reference === '') {
        throw ec2Error('InvalidPermission.Malformed', 'A UserIdGroupPair needs a GroupId or a GroupName.');
      }
      const description = checkDescription(pair.description);
      rules.push({ ...base, cidrIpv4: null, referencedGroup: reference, description });
    }
  }
  if (rules.length > limits.securityGroupRulesPerDirectionMax)
    throw new CloudError('RulesPerSecurityGroupLimitExceeded');
  return rules;
}

/** The text EC2 puts in InvalidPermission.Duplicate: `peer: 0.0.0.0/0, TCP, from port: 22, to port: 22, ALLOW`. */
export function describeRule(rule: Omit<RuleSpec, 'description'>): string {
  const peer = rule.cidrIpv4 ?? rule.referencedGroup ?? '';
  const protocol = rule.ipProtocol === '-1' ? 'ALL' : rule.ipProtocol.toUpperCase();
  const ports = rule.ipProtocol === '-1' ? '' : `, from port: ${rule.fromPort}, to port: ${rule.toPort}`;
  return `peer: ${peer}, ${protocol}${ports}, ALLOW`;
}

/** A rule row as the grouping below reads it. */
export interface RuleView {
  readonly ipProtocol: string;
  readonly fromPort: number;
  readonly toPort: number;
  readonly cidrIpv4: string | null;
  readonly referencedGroupId: string | null;
  readonly description: string;
}

/** Rules grouped into IpPermissions (one per protocol and port range), in first-seen order. */
export interface GroupedPermission {
  readonly ipProtocol: string;
  readonly fromPort: number;
  readonly toPort: number;
  readonly ipRanges: { cidrIp: string; description: string }[];
  readonly groupIds: { groupId: string; description: string }[];
}

/** Groups rule rows back into EC2's IpPermissions. */
export function groupPermissions(rules: readonly RuleView[]): GroupedPermission[] {
  const byKey = new Map<string, GroupedPermission>();
  for (const rule of rules) {
    const key = `${rule.ipProtocol}|${rule.fromPort}|${rule.toPort}`;
    let permission = byKey.get(key);
    if (permission === undefined) {
      permission = {
        ipProtocol: rule.ipProtocol,
        fromPort: rule.fromPort,
        toPort: rule.toPort,
        ipRanges: [],
        groupIds: [],
      };
      byKey.set(key, permission);
    }
    if (rule.cidrIpv4 !== null)
      permission.ipRanges.push({ cidrIp: rule.cidrIpv4, description: rule.description });
    if (rule.referencedGroupId !== null)
      permission.groupIds.push({ groupId: rule.referencedGroupId, description: rule.description });
  }
  return [...byKey.values()];
}
