// The VPC model through the AWS SDK against an in-process daemon: every account's default VPC (subnets per
// zone, main route table, internet gateway, default group), CreateVpc/CreateSubnet with EC2's CIDR checks,
// DeleteVpc/DeleteSubnet with DependencyViolation, gateways, account attributes, filters, tags, DryRun and
// account isolation.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AttachInternetGatewayCommand,
  CreateDefaultVpcCommand,
  CreateInternetGatewayCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  DeleteInternetGatewayCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DeleteVpcCommand,
  DescribeAccountAttributesCommand,
  DescribeInternetGatewaysCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  DetachInternetGatewayCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { startTestDaemon, type TestDaemon } from '../../testing/test-daemon.ts';
import { expectEc2Error } from './ebs-test-helpers.ts';

let strata: TestDaemon;
let ec2: EC2Client;

before(async () => {
  strata = await startTestDaemon();
  ec2 = strata.ec2();
});
after(() => strata.close());

async function defaultVpcId(client: EC2Client): Promise<string> {
  const out = await client.send(
    new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }),
  );
  assert.equal(out.Vpcs?.length, 1);
  return out.Vpcs![0]!.VpcId!;
}

test('every account has a default VPC with a default subnet per zone, a route to its gateway and a default group', async () => {
  const vpcs = (await ec2.send(new DescribeVpcsCommand({}))).Vpcs ?? [];
  assert.equal(vpcs.length, 1);
  const vpc = vpcs[0]!;
  assert.match(vpc.VpcId!, /^vpc-[0-9a-f]{17}$/);
  assert.equal(vpc.CidrBlock, '172.31.0.0/16');
  assert.equal(vpc.IsDefault, true);
  assert.equal(vpc.State, 'available');
  assert.equal(vpc.OwnerId, strata.admin.accountId);
  assert.equal(vpc.CidrBlockAssociationSet?.[0]?.CidrBlockState?.State, 'associated');

  const subnets = (await ec2.send(new DescribeSubnetsCommand({}))).Subnets ?? [];
  const zones = strata.cloud.regions.zones.map((z) => z.zoneName);
  assert.deepEqual(subnets.map((s) => s.AvailabilityZone).sort(), [...zones].sort());
  const byZone = new Map(subnets.map((s) => [s.AvailabilityZone, s]));
  zones.forEach((zone, index) => {
    const subnet = byZone.get(zone)!;
    assert.equal(subnet.CidrBlock, `172.31.${index * 16}.0/20`);
    assert.equal(subnet.DefaultForAz, true);
    assert.equal(subnet.MapPublicIpOnLaunch, true);
    assert.equal(subnet.VpcId, vpc.VpcId);
    assert.equal(subnet.AvailableIpAddressCount, 4096 - 5);
    assert.match(subnet.SubnetId!, /^subnet-[0-9a-f]{17}$/);
  });

  const gateways = (await ec2.send(new DescribeInternetGatewaysCommand({}))).InternetGateways ?? [];
  assert.equal(gateways.length, 1);
  assert.match(gateways[0]!.InternetGatewayId!, /^igw-[0-9a-f]{17}$/);
  assert.deepEqual(gateways[0]!.Attachments, [{ VpcId: vpc.VpcId, State: 'available' }]);

  const tables = (await ec2.send(new DescribeRouteTablesCommand({}))).RouteTables ?? [];
  assert.equal(tables.length, 1);
  assert.match(tables[0]!.RouteTableId!, /^rtb-[0-9a-f]{17}$/);
  assert.equal(tables[0]!.Associations?.[0]?.Main, true);
  assert.deepEqual(
    tables[0]!.Routes?.map((r) => [r.DestinationCidrBlock, r.GatewayId]),
    [
      ['172.31.0.0/16', 'local'],
      ['0.0.0.0/0', gateways[0]!.InternetGatewayId],
    ],
  );

  const groups = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['default'] })))
    .SecurityGroups;
  assert.equal(groups?.length, 1);
  const group = groups![0]!;
  assert.equal(group.VpcId, vpc.VpcId);
  assert.deepEqual(
    group.IpPermissions?.[0]?.UserIdGroupPairs?.map((p) => p.GroupId),
    [group.GroupId],
  );
  assert.equal(group.IpPermissions?.[0]?.IpProtocol, '-1');
  assert.deepEqual(
    group.IpPermissionsEgress?.[0]?.IpRanges?.map((r) => r.CidrIp),
    ['0.0.0.0/0'],
  );

  // The default VPC is made once, however many calls race for it.
  const again = await Promise.all([1, 2, 3].map(() => ec2.send(new DescribeVpcsCommand({}))));
  for (const out of again)
    assert.deepEqual(
      out.Vpcs?.map((v) => v.VpcId),
      [vpc.VpcId],
    );
});

test('DescribeAccountAttributes names the default VPC and the platform', async () => {
  const vpcId = await defaultVpcId(ec2);
  const all = await ec2.send(new DescribeAccountAttributesCommand({}));
  const attributes = new Map(
    (all.AccountAttributes ?? []).map((a) => [
      a.AttributeName,
      a.AttributeValues?.map((v) => v.AttributeValue),
    ]),
  );
  assert.deepEqual(attributes.get('supported-platforms'), ['VPC']);
  assert.deepEqual(attributes.get('default-vpc'), [vpcId]);
  assert.ok(Number(attributes.get('max-instances')?.[0]) > 0);
  const one = await ec2.send(new DescribeAccountAttributesCommand({ AttributeNames: ['default-vpc'] }));
  assert.deepEqual(
    one.AccountAttributes?.map((a) => a.AttributeName),
    ['default-vpc'],
  );
  await expectEc2Error(
    ec2.send(new DescribeAccountAttributesCommand({ AttributeNames: ['nonsense' as 'default-vpc'] })),
    'InvalidParameterValue',
  );
});

test('CreateVpc and CreateSubnet check blocks as EC2 does; filters and tags find them', async () => {
  await expectEc2Error(ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/8' })), 'InvalidVpc.Range');
  await expectEc2Error(ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/29' })), 'InvalidVpc.Range');
  await expectEc2Error(ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.1/16' })), 'InvalidParameterValue');
  await expectEc2Error(
    ec2.send(new CreateVpcCommand({ CidrBlock: '10.9.0.0/16', DryRun: true })),
    'DryRunOperation',
  );
  const created = await ec2.send(
    new CreateVpcCommand({
      CidrBlock: '10.9.0.0/16',
      TagSpecifications: [{ ResourceType: 'vpc', Tags: [{ Key: 'Name', Value: 'lab' }] }],
    }),
  );
  const vpcId = created.Vpc!.VpcId!;
  assert.equal(created.Vpc!.IsDefault, false);
  assert.deepEqual(created.Vpc!.Tags, [{ Key: 'Name', Value: 'lab' }]);
  const tagged = await ec2.send(
    new DescribeVpcsCommand({ Filters: [{ Name: 'tag:Name', Values: ['lab'] }] }),
  );
  assert.deepEqual(
    tagged.Vpcs?.map((v) => v.VpcId),
    [vpcId],
  );
  const byCidr = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'cidr', Values: ['10.9.*'] }] }));
  assert.deepEqual(
    byCidr.Vpcs?.map((v) => v.VpcId),
    [vpcId],
  );

  const zone = `${strata.region}b`;
  await expectEc2Error(
    ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.10.0.0/24' })),
    'InvalidSubnet.Range',
  );
  await expectEc2Error(
    ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.9.0.0/29' })),
    'InvalidSubnet.Range',
  );
  await expectEc2Error(
    ec2.send(new CreateSubnetCommand({ VpcId: 'vpc-00000000000000000', CidrBlock: '10.9.0.0/24' })),
    'InvalidVpcID.NotFound',
  );
  await expectEc2Error(
    ec2.send(new CreateSubnetCommand({ VpcId: 'vpc-zz', CidrBlock: '10.9.0.0/24' })),
    'InvalidVpcID.Malformed',
  );
  const subnet = await ec2.send(
    new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.9.1.0/24', AvailabilityZone: zone }),
  );
  assert.equal(subnet.Subnet?.AvailabilityZone, zone);
  assert.equal(subnet.Subnet?.DefaultForAz, false);
  assert.equal(subnet.Subnet?.MapPublicIpOnLaunch, false);
  assert.equal(subnet.Subnet?.AvailableIpAddressCount, 251);
  await expectEc2Error(
    ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.9.0.0/16' })),
    'InvalidSubnet.Conflict',
  );
  await expectEc2Error(
    ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.9.1.128/25' })),
    'InvalidSubnet.Conflict',
  );
  const inVpc = await ec2.send(
    new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }),
  );
  assert.deepEqual(
    inVpc.Subnets?.map((s) => s.SubnetId),
    [subnet.Subnet?.SubnetId],
  );
  const defaults = await ec2.send(
    new DescribeSubnetsCommand({ Filters: [{ Name: 'default-for-az', Values: ['true'] }] }),
  );
  assert.equal(defaults.Subnets?.length, strata.cloud.regions.zones.length);

  // A new VPC gets its own main route table (local route only) and default group.
  const tables = await ec2.send(
    new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }),
  );
  assert.deepEqual(
    tables.RouteTables?.[0]?.Routes?.map((r) => r.GatewayId),
    ['local'],
  );
  const groups = await ec2.send(
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }),
  );
  assert.deepEqual(
    groups.SecurityGroups?.map((g) => g.GroupName),
    ['default'],
  );

  // DeleteVpc waits for its subnets and groups; DeleteSubnet works once nothing uses it.
  const extra = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: 'lab-web', Description: 'web', VpcId: vpcId }),
  );
  await expectEc2Error(ec2.send(new DeleteVpcCommand({ VpcId: vpcId })), 'DependencyViolation');
  await ec2.send(new DeleteSubnetCommand({ SubnetId: subnet.Subnet!.SubnetId! }));
  await expectEc2Error(
    ec2.send(new DeleteSubnetCommand({ SubnetId: subnet.Subnet!.SubnetId! })),
    'InvalidSubnetID.NotFound',
  );
  await expectEc2Error(ec2.send(new DeleteVpcCommand({ VpcId: vpcId })), 'DependencyViolation');
  await ec2.send(new DeleteSecurityGroupCommand({ GroupId: extra.GroupId! }));
  await expectEc2Error(ec2.send(new DeleteVpcCommand({ VpcId: vpcId, DryRun: true })), 'DryRunOperation');
  await ec2.send(new DeleteVpcCommand({ VpcId: vpcId }));
  await expectEc2Error(ec2.send(new DescribeVpcsCommand({ VpcIds: [vpcId] })), 'InvalidVpcID.NotFound');
  const left = await ec2.send(
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }),
  );
  assert.deepEqual(left.SecurityGroups, []);
});

test('internet gateways attach, detach and delete; the default VPC can be emptied, deleted and made again', async () => {
  const bob = strata.ec2(await strata.createAccount());
  const vpcId = await defaultVpcId(bob);
  const gatewayId = (await bob.send(new DescribeInternetGatewaysCommand({}))).InternetGateways![0]!
    .InternetGatewayId!;
  await expectEc2Error(
    bob.send(new DeleteInternetGatewayCommand({ InternetGatewayId: gatewayId })),
    'DependencyViolation',
  );
  for (const subnet of (await bob.send(new DescribeSubnetsCommand({}))).Subnets ?? [])
    await bob.send(new DeleteSubnetCommand({ SubnetId: subnet.SubnetId! }));
  await expectEc2Error(bob.send(new DeleteVpcCommand({ VpcId: vpcId })), 'DependencyViolation');
  await bob.send(new DetachInternetGatewayCommand({ InternetGatewayId: gatewayId, VpcId: vpcId }));
  await expectEc2Error(
    bob.send(new DetachInternetGatewayCommand({ InternetGatewayId: gatewayId, VpcId: vpcId })),
    'Gateway.NotAttached',
  );
  const routes = await bob.send(new DescribeRouteTablesCommand({}));
  assert.deepEqual(
    routes.RouteTables?.[0]?.Routes?.map((r) => r.GatewayId),
    ['local'],
  );
  await bob.send(new DeleteInternetGatewayCommand({ InternetGatewayId: gatewayId }));
  await bob.send(new DeleteVpcCommand({ VpcId: vpcId }));
  assert.deepEqual((await bob.send(new DescribeVpcsCommand({}))).Vpcs, []);
  const attributes = await bob.send(
    new DescribeAccountAttributesCommand({ AttributeNames: ['default-vpc'] }),
  );
  assert.equal(attributes.AccountAttributes?.[0]?.AttributeValues?.[0]?.AttributeValue, 'none');
  await expectEc2Error(
    bob.send(new CreateSecurityGroupCommand({ GroupName: 'x', Description: 'x' })),
    'VPCIdNotSpecified',
  );

  const again = await bob.send(new CreateDefaultVpcCommand({}));
  assert.equal(again.Vpc?.IsDefault, true);
  assert.notEqual(again.Vpc?.VpcId, vpcId);
  await expectEc2Error(bob.send(new CreateDefaultVpcCommand({})), 'DefaultVpcAlreadyExists');
  assert.equal(
    (await bob.send(new DescribeSubnetsCommand({}))).Subnets?.length,
    strata.cloud.regions.zones.length,
  );

  const created = await bob.send(new CreateInternetGatewayCommand({}));
  const newGateway = created.InternetGateway!.InternetGatewayId!;
  assert.deepEqual(created.InternetGateway?.Attachments, []);
  await expectEc2Error(
    bob.send(new AttachInternetGatewayCommand({ InternetGatewayId: newGateway, VpcId: again.Vpc!.VpcId! })),
    'Resource.AlreadyAssociated',
  );
  await bob.send(new DeleteInternetGatewayCommand({ InternetGatewayId: newGateway }));
});

test("accounts never see or use each other's VPCs, subnets, gateways or route tables", async () => {
  const carol = strata.ec2(await strata.createAccount());
  const adminVpc = await defaultVpcId(ec2);
  const carolVpc = await defaultVpcId(carol);
  assert.notEqual(adminVpc, carolVpc);
  await expectEc2Error(carol.send(new DescribeVpcsCommand({ VpcIds: [adminVpc] })), 'InvalidVpcID.NotFound');
  await expectEc2Error(carol.send(new DeleteVpcCommand({ VpcId: adminVpc })), 'InvalidVpcID.NotFound');
  await expectEc2Error(
    carol.send(new CreateSubnetCommand({ VpcId: adminVpc, CidrBlock: '172.31.200.0/24' })),
    'InvalidVpcID.NotFound',
  );
  const adminSubnet = (await ec2.send(new DescribeSubnetsCommand({}))).Subnets![0]!.SubnetId!;
  await expectEc2Error(
    carol.send(new DescribeSubnetsCommand({ SubnetIds: [adminSubnet] })),
    'InvalidSubnetID.NotFound',
  );
  await expectEc2Error(
    carol.send(new DeleteSubnetCommand({ SubnetId: adminSubnet })),
    'InvalidSubnetID.NotFound',
  );
  await expectEc2Error(
    carol.send(new CreateTagsCommand({ Resources: [adminVpc], Tags: [{ Key: 'a', Value: 'b' }] })),
    'InvalidVpcID.NotFound',
  );
  const theirs = (await carol.send(new DescribeSubnetsCommand({}))).Subnets ?? [];
  assert.ok(theirs.every((s) => s.VpcId === carolVpc && s.OwnerId !== strata.admin.accountId));
  const adminGroups = (await ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups ?? [];
  const carolGroups = (await carol.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups ?? [];
  assert.ok(!carolGroups.some((g) => adminGroups.some((a) => a.GroupId === g.GroupId)));
});

test('Describe paging and id errors', async () => {
  await expectEc2Error(
    ec2.send(new DescribeSubnetsCommand({ SubnetIds: ['subnet-nope'] })),
    'InvalidSubnetID.Malformed',
  );
  await expectEc2Error(ec2.send(new DescribeVpcsCommand({ MaxResults: 4 })), 'InvalidParameterValue');
  await expectEc2Error(
    ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'bogus', Values: ['x'] }] })),
    'InvalidParameterValue',
  );
  const first = await ec2.send(new DescribeSubnetsCommand({ MaxResults: 5 }));
  const all = (await ec2.send(new DescribeSubnetsCommand({}))).Subnets ?? [];
  assert.equal(first.Subnets?.length, Math.min(5, all.length));
  if (all.length > 5) assert.ok(first.NextToken);
});
