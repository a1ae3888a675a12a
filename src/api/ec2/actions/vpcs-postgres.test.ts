// The VPC model on PostgreSQL: the default VPC's one-writer creation under racing requests (insert … on
// conflict do nothing, bigint counts), subnets, security group rules and instances' interfaces, the same
// Kysely queries as on SQLite, once end to end.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DeleteSubnetCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  RevokeSecurityGroupIngressCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { postgresSkipReason, startTestDaemon, type TestDaemon } from '../../testing/test-daemon.ts';
import { expectEc2Error } from './ebs-test-helpers.ts';
import { registerImage, snapshotWithData } from './compute-test-helpers.ts';

const skip = postgresSkipReason();
let strata: TestDaemon | undefined;

before(async () => {
  if (skip === undefined) strata = await startTestDaemon({ postgres: true });
});
after(() => strata?.close());

test('default VPC, subnets, groups and instance interfaces on PostgreSQL', { skip }, async () => {
  assert.ok(strata);
  const daemon = strata;
  const ec2 = daemon.ec2();
  const racing = await Promise.all([1, 2, 3, 4].map(() => ec2.send(new DescribeVpcsCommand({}))));
  const ids = new Set(racing.flatMap((out) => out.Vpcs?.map((v) => v.VpcId) ?? []));
  assert.equal(ids.size, 1, 'one default VPC whatever the race');
  const subnets = (await ec2.send(new DescribeSubnetsCommand({}))).Subnets ?? [];
  assert.equal(subnets.length, daemon.cloud.regions.zones.length);

  const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.60.0.0/16' }))).Vpc!.VpcId!;
  const subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: '10.60.0.0/28' }))).Subnet!;
  assert.equal(subnet.AvailableIpAddressCount, 11);
  await expectEc2Error(
    ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: '10.60.0.0/24' })),
    'InvalidSubnet.Conflict',
  );
  const { GroupId: group } = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: 'pg', Description: 'x', VpcId: vpc }),
  );
  const ssh = { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] };
  await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: group, IpPermissions: [ssh] }));
  await expectEc2Error(
    ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: group, IpPermissions: [ssh] })),
    'InvalidPermission.Duplicate',
  );

  const imageId = await registerImage(ec2, await snapshotWithData(daemon, ec2, 'pg-net'));
  const run = await ec2.send(
    new RunInstancesCommand({
      ImageId: imageId,
      MinCount: 3,
      MaxCount: 3,
      SubnetId: subnet.SubnetId,
      SecurityGroupIds: [group!],
    }),
  );
  await daemon.cloud.compute.idle();
  const addresses = (run.Instances ?? []).map((i) => i.PrivateIpAddress).sort();
  assert.deepEqual(addresses, ['10.60.0.4', '10.60.0.5', '10.60.0.6']);
  const inSubnet = await ec2.send(
    new DescribeInstancesCommand({ Filters: [{ Name: 'subnet-id', Values: [subnet.SubnetId!] }] }),
  );
  assert.equal(inSubnet.Reservations?.[0]?.Instances?.length, 3);
  const counted = (await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnet.SubnetId!] })))
    .Subnets![0]!;
  assert.equal(counted.AvailableIpAddressCount, 8);

  // Launches racing into one VPC never get one address twice.
  const racingRuns = await Promise.all(
    [1, 2, 3].map(() =>
      ec2.send(
        new RunInstancesCommand({ ImageId: imageId, MinCount: 2, MaxCount: 2, SubnetId: subnet.SubnetId }),
      ),
    ),
  );
  await daemon.cloud.compute.idle();
  const raced = racingRuns.flatMap((out) => (out.Instances ?? []).map((i) => i.PrivateIpAddress));
  assert.equal(raced.length, 6);
  assert.equal(new Set([...raced, ...addresses]).size, 9);
  const all = [...(run.Instances ?? []), ...racingRuns.flatMap((out) => out.Instances ?? [])];

  await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: group, IpPermissions: [ssh] }));
  assert.deepEqual(
    (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [group!] }))).SecurityGroups?.[0]
      ?.IpPermissions,
    [],
  );
  await expectEc2Error(
    ec2.send(new DeleteSubnetCommand({ SubnetId: subnet.SubnetId! })),
    'DependencyViolation',
  );
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: all.map((i) => i.InstanceId!) }));
  await daemon.cloud.compute.idle();
  await ec2.send(new DeleteSubnetCommand({ SubnetId: subnet.SubnetId! }));
});
