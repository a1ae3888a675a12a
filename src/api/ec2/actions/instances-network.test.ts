// Instances on the VPC model through the AWS SDK with the fake driver: RunInstances' subnet, groups,
// private address and network interface parameters with EC2's errors, the network fields and filters of
// DescribeInstances, DescribeNetworkInterfaces, groupSet, an address kept through stop/start and freed at
// terminate, and the InstanceNetworkSource the host reads (rules resolved, NetworkRefresh told of changes).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  ModifyInstanceAttributeCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type Instance,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import { startTestDaemon, type TestDaemon } from '../../testing/test-daemon.ts';
import { createVpcNetworking } from '../../../cloud/vpc/vpc.ts';
import { TagService } from '../../../cloud/common/tags.ts';
import { Paginator } from '../../../cloud/common/pagination.ts';
import { noDryRun } from '../../../cloud/common/dry-run.ts';
import { expectEc2Error } from './ebs-test-helpers.ts';
import { registerImage, snapshotWithData } from './compute-test-helpers.ts';

let strata: TestDaemon;
let ec2: EC2Client;
let imageId: string;
let defaultGroupId: string;

before(async () => {
  strata = await startTestDaemon();
  ec2 = strata.ec2();
  imageId = await registerImage(ec2, await snapshotWithData(strata, ec2, 'NET', 1));
  const groups = await ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['default'] }));
  defaultGroupId = groups.SecurityGroups![0]!.GroupId!;
});
after(() => strata.close());

async function settle(): Promise<void> {
  await strata.cloud.compute.idle();
  await strata.cloud.ebs.idle();
}

async function run(input: Partial<RunInstancesCommandInput> = {}, client = ec2): Promise<Instance[]> {
  const out = await client.send(
    new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, ...input }),
  );
  await settle();
  return out.Instances ?? [];
}

async function describe(instanceId: string): Promise<Instance> {
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  return out.Reservations![0]!.Instances![0]!;
}

async function subnetOfZone(zone: string): Promise<{ id: string; cidr: string }> {
  const out = await ec2.send(
    new DescribeSubnetsCommand({
      Filters: [
        { Name: 'availability-zone', Values: [zone] },
        { Name: 'default-for-az', Values: ['true'] },
      ],
    }),
  );
  return { id: out.Subnets![0]!.SubnetId!, cidr: out.Subnets![0]!.CidrBlock! };
}

test('a plain launch lands in the default subnet with the default group, an address and an interface', async () => {
  const [launched] = await run();
  const instance = await describe(launched!.InstanceId!);
  const zone = strata.cloud.regions.zones[0]!.zoneName;
  const subnet = await subnetOfZone(zone);
  assert.equal(instance.SubnetId, subnet.id);
  assert.match(instance.VpcId!, /^vpc-/);
  assert.equal(instance.PrivateIpAddress, '172.31.0.4');
  assert.equal(instance.PrivateDnsName, 'ip-172-31-0-4.ec2.internal');
  assert.deepEqual(instance.SecurityGroups, [{ GroupName: 'default', GroupId: defaultGroupId }]);
  const nic = instance.NetworkInterfaces![0]!;
  assert.match(nic.NetworkInterfaceId!, /^eni-[0-9a-f]{17}$/);
  assert.match(nic.MacAddress!, /^02(:[0-9a-f]{2}){5}$/);
  assert.equal(nic.Status, 'in-use');
  assert.equal(nic.SubnetId, subnet.id);
  assert.equal(nic.Attachment?.DeviceIndex, 0);
  assert.equal(nic.Attachment?.Status, 'attached');
  assert.deepEqual(nic.Groups, [{ GroupName: 'default', GroupId: defaultGroupId }]);
  assert.deepEqual(
    nic.PrivateIpAddresses?.map((a) => [a.PrivateIpAddress, a.Primary]),
    [['172.31.0.4', true]],
  );
  assert.equal(launched!.PrivateIpAddress, '172.31.0.4');
  assert.equal(await strata.cloud.vpc.interfaces.wantsPublicIp(instance.InstanceId!), true);

  const enis = await ec2.send(
    new DescribeNetworkInterfacesCommand({
      Filters: [{ Name: 'attachment.instance-id', Values: [instance.InstanceId!] }],
    }),
  );
  assert.deepEqual(
    enis.NetworkInterfaces?.map((n) => [n.NetworkInterfaceId, n.MacAddress, n.Attachment?.InstanceId]),
    [[nic.NetworkInterfaceId, nic.MacAddress, instance.InstanceId]],
  );
  const [second] = await run({ Placement: { AvailabilityZone: strata.cloud.regions.zones[1]!.zoneName } });
  assert.equal(second!.PrivateIpAddress, '172.31.16.4');
  assert.equal(second!.Placement?.AvailabilityZone, strata.cloud.regions.zones[1]!.zoneName);
});

test('SubnetId, SecurityGroupIds, SecurityGroups and PrivateIpAddress, with EC2 errors', async () => {
  const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.20.0.0/16' }))).Vpc!.VpcId!;
  const subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: '10.20.1.0/28' }))).Subnet!;
  const { GroupId: web } = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: 'web', Description: 'x', VpcId: vpc }),
  );
  const [pinned] = await run({
    SubnetId: subnet.SubnetId,
    SecurityGroupIds: [web!],
    PrivateIpAddress: '10.20.1.9',
  });
  const instance = await describe(pinned!.InstanceId!);
  assert.equal(instance.VpcId, vpc);
  assert.equal(instance.PrivateIpAddress, '10.20.1.9');
  assert.deepEqual(
    instance.SecurityGroups?.map((g) => g.GroupId),
    [web],
  );
  assert.equal(await strata.cloud.vpc.interfaces.wantsPublicIp(instance.InstanceId!), false);

  const launch = (input: Partial<RunInstancesCommandInput>) => run({ SubnetId: subnet.SubnetId, ...input });
  await expectEc2Error(launch({ PrivateIpAddress: '10.20.1.9' }), 'InvalidIPAddress.InUse');
  for (const reserved of ['10.20.1.0', '10.20.1.3', '10.20.1.15', '10.20.2.4', 'nonsense'])
    await expectEc2Error(launch({ PrivateIpAddress: reserved }), 'InvalidParameterValue');
  await expectEc2Error(
    launch({ PrivateIpAddress: '10.20.1.10', MaxCount: 2, MinCount: 2 }),
    'InvalidParameterCombination',
  );
  await expectEc2Error(launch({ SecurityGroupIds: ['sg-00000000000000000'] }), 'InvalidGroup.NotFound');
  await expectEc2Error(launch({ SecurityGroupIds: ['sg-bad'] }), 'InvalidGroupId.Malformed');
  await expectEc2Error(launch({ SecurityGroupIds: [defaultGroupId] }), 'InvalidParameter');
  await expectEc2Error(run({ SubnetId: 'subnet-00000000000000000' }), 'InvalidSubnetID.NotFound');
  await expectEc2Error(run({ SecurityGroups: ['no-such-group'] }), 'InvalidGroup.NotFound');
  const zoneB = strata.cloud.regions.zones[1]!.zoneName;
  await expectEc2Error(launch({ Placement: { AvailabilityZone: zoneB } }), 'InvalidParameterValue');

  // A /28 has 11 addresses for instances; the rest of them fill up, then the subnet is full.
  const rest = await launch({ MinCount: 10, MaxCount: 10 });
  assert.equal(new Set(rest.map((i) => i.PrivateIpAddress)).size, 10);
  await expectEc2Error(launch({}), 'InsufficientFreeAddressesInSubnet');
  await expectEc2Error(
    ec2.send(new DeleteSubnetCommand({ SubnetId: subnet.SubnetId! })),
    'DependencyViolation',
  );
  await expectEc2Error(ec2.send(new DeleteSecurityGroupCommand({ GroupId: web })), 'DependencyViolation');
  await ec2.send(
    new TerminateInstancesCommand({ InstanceIds: [pinned!.InstanceId!, ...rest.map((i) => i.InstanceId!)] }),
  );
  await settle();
  await ec2.send(new DeleteSecurityGroupCommand({ GroupId: web }));
  await ec2.send(new DeleteSubnetCommand({ SubnetId: subnet.SubnetId! }));

  const { GroupId: named } = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: 'by-name', Description: 'x' }),
  );
  const [byName] = await run({ SecurityGroups: ['by-name', 'default'] });
  assert.deepEqual(
    (await describe(byName!.InstanceId!)).SecurityGroups?.map((g) => g.GroupId),
    [named, defaultGroupId],
  );
});

test('NetworkInterfaces with DeviceIndex 0; conflicts with instance-level parameters', async () => {
  const subnet = await subnetOfZone(strata.cloud.regions.zones[2]!.zoneName);
  const { GroupId: group } = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: 'nic', Description: 'x' }),
  );
  const [launched] = await run({
    NetworkInterfaces: [
      {
        DeviceIndex: 0,
        SubnetId: subnet.id,
        Groups: [group!],
        AssociatePublicIpAddress: false,
        PrivateIpAddress: '172.31.32.77',
      },
    ],
  });
  const instance = await describe(launched!.InstanceId!);
  assert.equal(instance.SubnetId, subnet.id);
  assert.equal(instance.PrivateIpAddress, '172.31.32.77');
  assert.deepEqual(
    instance.SecurityGroups?.map((g) => g.GroupId),
    [group],
  );
  assert.equal(instance.Placement?.AvailabilityZone, strata.cloud.regions.zones[2]!.zoneName);
  assert.equal(await strata.cloud.vpc.interfaces.wantsPublicIp(instance.InstanceId!), false);
  const nic = (input: object) => [{ DeviceIndex: 0, SubnetId: subnet.id, ...input }];
  await expectEc2Error(
    run({ SubnetId: subnet.id, NetworkInterfaces: nic({}) }),
    'InvalidParameterCombination',
  );
  await expectEc2Error(
    run({ SecurityGroupIds: [group!], NetworkInterfaces: nic({}) }),
    'InvalidParameterCombination',
  );
  await expectEc2Error(
    run({ PrivateIpAddress: '172.31.32.90', NetworkInterfaces: nic({}) }),
    'InvalidParameterCombination',
  );
  await expectEc2Error(run({ NetworkInterfaces: nic({ DeviceIndex: 1 }) }), 'UnsupportedOperation');
});

test('DescribeInstances network filters; groupSet and ModifyInstanceAttribute GroupId.N', async () => {
  const [launched] = await run();
  const id = launched!.InstanceId!;
  const instance = await describe(id);
  const nic = instance.NetworkInterfaces![0]!;
  const filters: [string, string][] = [
    ['vpc-id', instance.VpcId!],
    ['subnet-id', instance.SubnetId!],
    ['private-ip-address', instance.PrivateIpAddress!],
    ['private-dns-name', instance.PrivateDnsName!],
    ['network-interface.network-interface-id', nic.NetworkInterfaceId!],
    ['network-interface.subnet-id', instance.SubnetId!],
    ['network-interface.vpc-id', instance.VpcId!],
    ['network-interface.private-ip-address', instance.PrivateIpAddress!],
    ['network-interface.mac-address', nic.MacAddress!],
    ['network-interface.addresses.private-ip-address', instance.PrivateIpAddress!],
    ['instance.group-id', defaultGroupId],
    ['instance.group-name', 'default'],
  ];
  for (const [name, value] of filters) {
    const out = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: name, Values: [value] },
          { Name: 'instance-id', Values: [id] },
        ],
      }),
    );
    assert.equal(out.Reservations?.length, 1, name);
  }
  const none = await ec2.send(
    new DescribeInstancesCommand({ Filters: [{ Name: 'private-ip-address', Values: ['192.0.2.1'] }] }),
  );
  assert.deepEqual(none.Reservations, []);

  const { GroupId: extra } = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: 'extra', Description: 'x' }),
  );
  await ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, Groups: [extra!, defaultGroupId] }));
  const attribute = await ec2.send(
    new DescribeInstanceAttributeCommand({ InstanceId: id, Attribute: 'groupSet' }),
  );
  assert.deepEqual(
    attribute.Groups?.map((g) => g.GroupId),
    [extra, defaultGroupId],
  );
  const other = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.30.0.0/16' }))).Vpc!.VpcId!;
  const { GroupId: foreign } = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: 'far', Description: 'x', VpcId: other }),
  );
  await expectEc2Error(
    ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, Groups: [foreign!] })),
    'InvalidGroup.NotFound',
  );
  await expectEc2Error(
    ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, Groups: ['sg-00000000000000000'] })),
    'InvalidGroup.NotFound',
  );
  await expectEc2Error(
    ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, Groups: [extra!], DryRun: true })),
    'DryRunOperation',
  );
  assert.deepEqual(
    (await describe(id)).SecurityGroups?.map((g) => g.GroupId),
    [extra, defaultGroupId],
  );
});

test('the private address stays through stop and start and is freed at terminate', async () => {
  const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.40.0.0/16' }))).Vpc!.VpcId!;
  const subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: '10.40.0.0/24' }))).Subnet!
    .SubnetId!;
  const [launched] = await run({ SubnetId: subnet });
  const id = launched!.InstanceId!;
  const before = await describe(id);
  await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
  await settle();
  const stopped = await describe(id);
  assert.equal(stopped.State?.Name, 'stopped');
  assert.equal(stopped.PrivateIpAddress, before.PrivateIpAddress);
  await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
  await settle();
  const started = await describe(id);
  assert.equal(started.PrivateIpAddress, before.PrivateIpAddress);
  assert.equal(started.NetworkInterfaces?.[0]?.MacAddress, before.NetworkInterfaces?.[0]?.MacAddress);
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  await settle();
  const gone = await describe(id);
  assert.equal(gone.State?.Name, 'terminated');
  assert.equal(gone.PrivateIpAddress, undefined);
  assert.equal(await strata.cloud.vpc.source.networkOf(id), undefined);
  await expectEc2Error(
    ec2.send(
      new DescribeNetworkInterfacesCommand({
        NetworkInterfaceIds: [before.NetworkInterfaces![0]!.NetworkInterfaceId!],
      }),
    ),
    'InvalidNetworkInterfaceID.NotFound',
  );
  const [next] = await run({ SubnetId: subnet });
  assert.equal(next!.PrivateIpAddress, before.PrivateIpAddress);
});

test('the host reads networks with their rules resolved, and hears of every rule or membership change', async () => {
  const { GroupId: ssh } = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: 'ssh', Description: 'x' }),
  );
  await ec2.send(
    new AuthorizeSecurityGroupIngressCommand({
      GroupId: ssh,
      IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
    }),
  );
  const [launched] = await run({ SecurityGroupIds: [ssh!, defaultGroupId] });
  const id = launched!.InstanceId!;
  const network = await strata.cloud.vpc.source.networkOf(id);
  assert.ok(network);
  assert.equal(network.instanceId, id);
  assert.equal(network.accountId, strata.admin.accountId);
  assert.equal(network.privateIp, launched!.PrivateIpAddress);
  assert.equal(network.vpcCidr, '172.31.0.0/16');
  assert.equal(network.subnetCidr, '172.31.0.0/20');
  assert.equal(network.mac, launched!.NetworkInterfaces?.[0]?.MacAddress);
  // The daemon wires the address service in: the host sees the address DescribeInstances reports.
  assert.match(network.publicIp ?? '', /^127\.100\./);
  assert.equal(network.publicIp, (await strata.cloud.compute.addresses.publicAddressOf(id))?.ip);
  assert.deepEqual(network.policy.groupIds, [ssh, defaultGroupId]);
  const sshRule = network.policy.ingress.find((r) => r.protocol === 'tcp');
  assert.deepEqual(
    [sshRule?.fromPort, sshRule?.toPort, sshRule?.cidrs],
    [22, 22, [{ network: 0, prefixLength: 0 }]],
  );
  assert.ok(network.policy.ingress.some((r) => r.protocol === 'all' && r.groupIds.includes(defaultGroupId)));
  assert.ok(network.policy.egress.some((r) => r.protocol === 'all' && r.cidrs.length === 1));

  // The same services with a refresh port and a public address port, as the daemon wires them.
  let changes = 0;
  const wired = createVpcNetworking({
    db: strata.cloud.db,
    regions: strata.cloud.regions,
    paginator: new Paginator(),
    tags: new TagService(strata.cloud.db, new Paginator()),
    refresh: { changed: () => changes++ },
    publicAddressOf: (instanceId) =>
      Promise.resolve(
        instanceId === id
          ? { ip: '127.100.0.9', dnsName: 'ec2-127-100-0-9.compute-1.amazonaws.com' }
          : undefined,
      ),
  });
  const request = {
    group: { groupId: ssh, groupName: undefined },
    egress: false,
    permissions: [
      {
        ipProtocol: 'udp',
        fromPort: 53,
        toPort: 53,
        ipRanges: [{ cidrIp: '10.0.0.0/8', description: undefined }],
        groupPairs: [],
      },
    ],
    ruleIds: [],
    tagSpecifications: [],
    dryRun: noDryRun,
  };
  await wired.rules.authorize(strata.admin.accountId, request);
  assert.equal(changes, 1);
  assert.ok(
    (await wired.source.networkOf(id))?.policy.ingress.some((r) => r.protocol === 'udp' && r.fromPort === 53),
  );
  await wired.rules.revoke(strata.admin.accountId, request);
  assert.equal(changes, 2);
  await wired.interfaces.setInstanceGroups(strata.admin.accountId, id, [defaultGroupId], noDryRun);
  assert.equal(changes, 3);
  const rewired = await wired.source.networkOf(id);
  assert.deepEqual(
    rewired?.securityGroups.map((g) => g.id),
    [defaultGroupId],
  );
  assert.equal(rewired?.publicIp, '127.100.0.9');
});

test("another account can use none of this account's subnets or groups", async () => {
  const erin = strata.ec2(await strata.createAccount());
  const subnet = await subnetOfZone(strata.cloud.regions.zones[0]!.zoneName);
  const theirImage = imageId;
  const launch = (input: Partial<RunInstancesCommandInput>) =>
    erin.send(new RunInstancesCommand({ ImageId: theirImage, MinCount: 1, MaxCount: 1, ...input }));
  await expectEc2Error(launch({ SubnetId: subnet.id }), 'InvalidSubnetID.NotFound');
  await expectEc2Error(launch({ SecurityGroupIds: [defaultGroupId] }), 'InvalidGroup.NotFound');
  const enis = await erin.send(new DescribeNetworkInterfacesCommand({}));
  assert.deepEqual(enis.NetworkInterfaces, []);
});
