// Security groups through the AWS SDK against an in-process daemon: create (default VPC or a named one),
// describe by id, name and filters, authorize and revoke rules in both directions (IpPermissions, group
// pairs, rule ids, the legacy flat form), DescribeSecurityGroupRules, delete with EC2's refusals, DryRun,
// and account isolation.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateVpcCommand,
  DeleteSecurityGroupCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  RevokeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
  type EC2Client,
  type SecurityGroup,
} from '@aws-sdk/client-ec2';
import { startTestDaemon, type TestDaemon } from '../../testing/test-daemon.ts';
import { signedRequest } from '../../testing/signed-request.ts';
import { expectEc2Error } from './ebs-test-helpers.ts';

let strata: TestDaemon;
let ec2: EC2Client;

before(async () => {
  strata = await startTestDaemon();
  ec2 = strata.ec2();
});
after(() => strata.close());

async function group(groupId: string): Promise<SecurityGroup> {
  const out = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
  assert.equal(out.SecurityGroups?.length, 1);
  return out.SecurityGroups![0]!;
}

const ssh = {
  IpProtocol: 'tcp',
  FromPort: 22,
  ToPort: 22,
  IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'ssh' }],
};

test('CreateSecurityGroup in the default VPC, with EC2 errors for bad names and duplicates', async () => {
  await expectEc2Error(
    ec2.send(new CreateSecurityGroupCommand({ GroupName: 'web', Description: '' })),
    'MissingParameter',
  );
  await expectEc2Error(
    ec2.send(new CreateSecurityGroupCommand({ GroupName: 'sg-web', Description: 'x' })),
    'InvalidParameterValue',
  );
  await expectEc2Error(
    ec2.send(new CreateSecurityGroupCommand({ GroupName: 'default', Description: 'x' })),
    'InvalidGroup.Reserved',
  );
  await expectEc2Error(
    ec2.send(new CreateSecurityGroupCommand({ GroupName: 'web', Description: 'x', DryRun: true })),
    'DryRunOperation',
  );
  const created = await ec2.send(
    new CreateSecurityGroupCommand({
      GroupName: 'web',
      Description: 'web servers',
      TagSpecifications: [{ ResourceType: 'security-group', Tags: [{ Key: 'team', Value: 'a' }] }],
    }),
  );
  assert.match(created.GroupId!, /^sg-[0-9a-f]{17}$/);
  assert.match(created.SecurityGroupArn!, new RegExp(`:security-group/${created.GroupId}$`));
  const web = await group(created.GroupId!);
  assert.equal(web.GroupName, 'web');
  assert.equal(web.Description, 'web servers');
  assert.deepEqual(web.Tags, [{ Key: 'team', Value: 'a' }]);
  assert.deepEqual(web.IpPermissions, []);
  assert.deepEqual(
    web.IpPermissionsEgress?.map((p) => [p.IpProtocol, p.IpRanges?.[0]?.CidrIp]),
    [['-1', '0.0.0.0/0']],
  );
  await expectEc2Error(
    ec2.send(new CreateSecurityGroupCommand({ GroupName: 'web', Description: 'again' })),
    'InvalidGroup.Duplicate',
  );

  // The same name is fine in another VPC.
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.1.0.0/16' }));
  const other = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: 'web', Description: 'x', VpcId: vpc.Vpc!.VpcId! }),
  );
  assert.equal((await group(other.GroupId!)).VpcId, vpc.Vpc!.VpcId);
  await expectEc2Error(
    ec2.send(
      new CreateSecurityGroupCommand({ GroupName: 'x', Description: 'x', VpcId: 'vpc-00000000000000000' }),
    ),
    'InvalidVpcID.NotFound',
  );

  const byName = await ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['web'] }));
  assert.deepEqual(
    byName.SecurityGroups?.map((g) => g.GroupId),
    [created.GroupId],
  );
  const byFilter = await ec2.send(
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['web'] }] }),
  );
  assert.deepEqual(
    byFilter.SecurityGroups?.map((g) => g.GroupId).sort(),
    [created.GroupId, other.GroupId].sort(),
  );
  const byTag = await ec2.send(
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'tag:team', Values: ['a'] }] }),
  );
  assert.deepEqual(
    byTag.SecurityGroups?.map((g) => g.GroupId),
    [created.GroupId],
  );
  await expectEc2Error(
    ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['nope'] })),
    'InvalidGroup.NotFound',
  );
  await expectEc2Error(
    ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: ['sg-1'] })),
    'InvalidGroupId.Malformed',
  );
  await expectEc2Error(
    ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: ['sg-00000000000000000'] })),
    'InvalidGroup.NotFound',
  );
});

test('authorize and revoke ingress and egress, by permission, by group pair and by rule id', async () => {
  const { GroupId: groupId } = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: 'app', Description: 'app' }),
  );
  const { GroupId: peerId } = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: 'peer', Description: 'peer' }),
  );
  await expectEc2Error(
    ec2.send(
      new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [ssh], DryRun: true }),
    ),
    'DryRunOperation',
  );
  const added = await ec2.send(
    new AuthorizeSecurityGroupIngressCommand({
      GroupId: groupId,
      IpPermissions: [
        ssh,
        { IpProtocol: '6', FromPort: 8000, ToPort: 8080, UserIdGroupPairs: [{ GroupId: peerId }] },
        { IpProtocol: 'icmp', FromPort: -1, ToPort: -1, IpRanges: [{ CidrIp: '10.0.0.0/8' }] },
      ],
    }),
  );
  assert.equal(added.Return, true);
  const rules = added.SecurityGroupRules ?? [];
  assert.equal(rules.length, 3);
  for (const rule of rules) {
    assert.match(rule.SecurityGroupRuleId!, /^sgr-[0-9a-f]{17}$/);
    assert.equal(rule.GroupId, groupId);
    assert.equal(rule.IsEgress, false);
  }
  assert.equal(rules[1]?.IpProtocol, 'tcp');
  assert.equal(rules[1]?.ReferencedGroupInfo?.GroupId, peerId);

  const app = await group(groupId!);
  const tcp22 = app.IpPermissions?.find((p) => p.FromPort === 22);
  assert.deepEqual(tcp22?.IpRanges, [{ CidrIp: '0.0.0.0/0', Description: 'ssh' }]);
  assert.equal(app.IpPermissions?.find((p) => p.FromPort === 8000)?.UserIdGroupPairs?.[0]?.GroupId, peerId);
  assert.equal(app.IpPermissions?.find((p) => p.IpProtocol === 'icmp')?.IpRanges?.[0]?.CidrIp, '10.0.0.0/8');

  await expectEc2Error(
    ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [ssh] })),
    'InvalidPermission.Duplicate',
  );
  const filtered = await ec2.send(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: 'ip-permission.from-port', Values: ['22'] },
        { Name: 'group-id', Values: [groupId!] },
      ],
    }),
  );
  assert.equal(filtered.SecurityGroups?.length, 1);
  const listed = await ec2.send(
    new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [groupId!] }] }),
  );
  assert.equal(listed.SecurityGroupRules?.filter((r) => !r.IsEgress).length, 3);
  assert.equal(listed.SecurityGroupRules?.filter((r) => r.IsEgress).length, 1);
  const one = await ec2.send(
    new DescribeSecurityGroupRulesCommand({ SecurityGroupRuleIds: [rules[0]!.SecurityGroupRuleId!] }),
  );
  assert.equal(one.SecurityGroupRules?.[0]?.FromPort, 22);

  await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [ssh] }));
  await expectEc2Error(
    ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [ssh] })),
    'InvalidPermission.NotFound',
  );
  await ec2.send(
    new RevokeSecurityGroupIngressCommand({
      GroupId: groupId,
      SecurityGroupRuleIds: [rules[1]!.SecurityGroupRuleId!],
    }),
  );
  await expectEc2Error(
    ec2.send(
      new RevokeSecurityGroupIngressCommand({
        GroupId: groupId,
        SecurityGroupRuleIds: [rules[1]!.SecurityGroupRuleId!],
      }),
    ),
    'InvalidSecurityGroupRuleId.NotFound',
  );
  assert.deepEqual(
    (await group(groupId!)).IpPermissions?.map((p) => p.IpProtocol),
    ['icmp'],
  );

  // Egress: the default all-traffic rule can go, and a narrower one comes in.
  await ec2.send(
    new RevokeSecurityGroupEgressCommand({
      GroupId: groupId,
      IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
    }),
  );
  await ec2.send(
    new AuthorizeSecurityGroupEgressCommand({
      GroupId: groupId,
      IpPermissions: [
        { IpProtocol: 'udp', FromPort: 53, ToPort: 53, IpRanges: [{ CidrIp: '172.31.0.2/32' }] },
      ],
    }),
  );
  assert.deepEqual(
    (await group(groupId!)).IpPermissionsEgress?.map((p) => [
      p.IpProtocol,
      p.FromPort,
      p.IpRanges?.[0]?.CidrIp,
    ]),
    [['udp', 53, '172.31.0.2/32']],
  );
});

test('malformed permissions get EC2 codes', async () => {
  const { GroupId: groupId } = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: 'strict', Description: 'x' }),
  );
  const bad = async (permission: object, code: string): Promise<void> =>
    expectEc2Error(
      ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [permission] })),
      code,
    );
  await bad(
    { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '10.0.0.1/8' }] },
    'InvalidPermission.Malformed',
  );
  await bad(
    { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: 'nonsense' }] },
    'InvalidPermission.Malformed',
  );
  await bad({ IpProtocol: 'tcp', FromPort: 22, ToPort: 22 }, 'InvalidPermission.Malformed');
  await bad({ IpProtocol: 'tcp', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }, 'InvalidParameterValue');
  await bad(
    { IpProtocol: 'tcp', FromPort: 90, ToPort: 80, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
    'InvalidParameterValue',
  );
  await bad({ IpProtocol: 'bogus', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }, 'InvalidParameterValue');
  await bad(
    { IpProtocol: 'tcp', FromPort: 1, ToPort: 2, UserIdGroupPairs: [{ GroupId: 'sg-00000000000000000' }] },
    'InvalidGroup.NotFound',
  );
  await expectEc2Error(
    ec2.send(
      new AuthorizeSecurityGroupIngressCommand({ GroupId: 'sg-00000000000000000', IpPermissions: [ssh] }),
    ),
    'InvalidGroup.NotFound',
  );
  await expectEc2Error(
    ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: 'bad', IpPermissions: [ssh] })),
    'InvalidGroupId.Malformed',
  );
  await expectEc2Error(
    ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId })),
    'MissingParameter',
  );
  assert.deepEqual((await group(groupId!)).IpPermissions, []);
});

test('the legacy flat form (IpProtocol/FromPort/ToPort/CidrIp) and GroupName address the default VPC', async () => {
  await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'legacy', Description: 'x' }));
  const response = await signedRequest(strata.endpoint, strata.admin, {
    region: strata.region,
    params: {
      Action: 'AuthorizeSecurityGroupIngress',
      Version: '2016-11-15',
      GroupName: 'legacy',
      IpProtocol: 'tcp',
      FromPort: '443',
      ToPort: '443',
      CidrIp: '192.0.2.0/24',
    },
  });
  assert.equal(response.status, 200, response.body);
  const legacy = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['legacy'] })))
    .SecurityGroups![0]!;
  assert.deepEqual(
    legacy.IpPermissions?.map((p) => [p.IpProtocol, p.FromPort, p.ToPort, p.IpRanges?.[0]?.CidrIp]),
    [['tcp', 443, 443, '192.0.2.0/24']],
  );
  await ec2.send(new DeleteSecurityGroupCommand({ GroupName: 'legacy' }));
  await expectEc2Error(
    ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['legacy'] })),
    'InvalidGroup.NotFound',
  );
});

test('DeleteSecurityGroup refuses the default group and groups other rules name', async () => {
  const defaultGroup = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['default'] })))
    .SecurityGroups![0]!;
  await expectEc2Error(
    ec2.send(new DeleteSecurityGroupCommand({ GroupId: defaultGroup.GroupId })),
    'CannotDelete',
  );
  const { GroupId: target } = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: 'target', Description: 'x' }),
  );
  const { GroupId: user } = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: 'user', Description: 'x' }),
  );
  await ec2.send(
    new AuthorizeSecurityGroupIngressCommand({
      GroupId: user,
      IpPermissions: [
        { IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, UserIdGroupPairs: [{ GroupId: target }] },
      ],
    }),
  );
  await expectEc2Error(ec2.send(new DeleteSecurityGroupCommand({ GroupId: target })), 'DependencyViolation');
  await expectEc2Error(
    ec2.send(new DeleteSecurityGroupCommand({ GroupId: user, DryRun: true })),
    'DryRunOperation',
  );
  await ec2.send(new DeleteSecurityGroupCommand({ GroupId: user }));
  await ec2.send(new DeleteSecurityGroupCommand({ GroupId: target }));
  await expectEc2Error(
    ec2.send(new DeleteSecurityGroupCommand({ GroupId: target })),
    'InvalidGroup.NotFound',
  );
  const left = await ec2.send(
    new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [user!] }] }),
  );
  assert.deepEqual(left.SecurityGroupRules, []);
});

test("accounts never see or change each other's groups", async () => {
  const dave = strata.ec2(await strata.createAccount());
  const { GroupId: mine } = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: 'private', Description: 'x' }),
  );
  await expectEc2Error(
    dave.send(new DescribeSecurityGroupsCommand({ GroupIds: [mine!] })),
    'InvalidGroup.NotFound',
  );
  await expectEc2Error(
    dave.send(new DescribeSecurityGroupsCommand({ GroupNames: ['private'] })),
    'InvalidGroup.NotFound',
  );
  await expectEc2Error(
    dave.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: mine, IpPermissions: [ssh] })),
    'InvalidGroup.NotFound',
  );
  await expectEc2Error(dave.send(new DeleteSecurityGroupCommand({ GroupId: mine })), 'InvalidGroup.NotFound');
  const { GroupId: theirs } = await dave.send(
    new CreateSecurityGroupCommand({ GroupName: 'private', Description: 'x' }),
  );
  await expectEc2Error(
    dave.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: theirs,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 1, ToPort: 1, UserIdGroupPairs: [{ GroupId: mine }] }],
      }),
    ),
    'InvalidGroup.NotFound',
  );
  const rules = await dave.send(new DescribeSecurityGroupRulesCommand({}));
  assert.ok((rules.SecurityGroupRules ?? []).every((r) => r.GroupOwnerId !== strata.admin.accountId));
});
