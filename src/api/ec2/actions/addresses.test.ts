// Public and Elastic IP addresses through the AWS SDK against an in-process daemon with the fake driver:
// an instance's auto-assigned address across stop and start, Elastic IPs allocated, associated, moved,
// disassociated and released, filters, quota, and isolation between accounts. The service itself (pool
// exhaustion, NetworkRefresh, NetworkInterfaceId targets) is driven directly at the end.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AllocateAddressCommand,
  CreateTagsCommand,
  AssociateAddressCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DisassociateAddressCommand,
  ReleaseAddressCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type DescribeAddressesCommandInput,
  type EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2';
import { startTestDaemon, type TestDaemon } from '../../testing/test-daemon.ts';
import { limits } from '../../../base/limits.ts';
import { AddressService } from '../../../cloud/addresses/addresses.ts';
import { inRange } from '../../../cloud/addresses/address-pool.ts';
import { autoAssignedRange, elasticRange } from '../../../cloud/addresses/public-addresses.ts';
import { TagService } from '../../../cloud/common/tags.ts';
import { noDryRun } from '../../../cloud/common/dry-run.ts';
import type { InstanceNetwork } from '../../../network/instance-network.ts';
import { expectEc2Error } from './ebs-test-helpers.ts';
import { registerImage, snapshotWithData } from './compute-test-helpers.ts';

let strata: TestDaemon;
let ec2: EC2Client;
let imageId: string;

before(async () => {
  strata = await startTestDaemon();
  ec2 = strata.ec2();
  imageId = await registerImage(ec2, await snapshotWithData(strata, ec2, 'ADDRESSES'));
});
after(() => strata.close());

async function settle(): Promise<void> {
  await strata.cloud.compute.idle();
  await strata.cloud.ebs.idle();
}

async function launch(client = ec2, image = imageId): Promise<string> {
  const out = await client.send(new RunInstancesCommand({ ImageId: image, MinCount: 1, MaxCount: 1 }));
  await settle();
  return out.Instances![0]!.InstanceId!;
}

async function describe(instanceId: string, client = ec2): Promise<Instance> {
  const out = await client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  return out.Reservations![0]!.Instances![0]!;
}

async function stop(instanceId: string): Promise<void> {
  await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
  await settle();
  assert.equal((await describe(instanceId)).State?.Name, 'stopped');
}

async function start(instanceId: string): Promise<void> {
  await ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] }));
  await settle();
  assert.equal((await describe(instanceId)).State?.Name, 'running');
}

async function releaseAll(client = ec2): Promise<void> {
  for (const a of (await client.send(new DescribeAddressesCommand({}))).Addresses ?? []) {
    if (a.AssociationId !== undefined)
      await client.send(new DisassociateAddressCommand({ AssociationId: a.AssociationId }));
    await client.send(new ReleaseAddressCommand({ AllocationId: a.AllocationId! }));
  }
}

test('a running instance has a public address and EC2 DNS name; stop gives it back, start brings a new one', async () => {
  const instanceId = await launch();
  const running = await describe(instanceId);
  assert.ok(running.PublicIpAddress !== undefined && inRange(running.PublicIpAddress, autoAssignedRange));
  assert.equal(
    running.PublicDnsName,
    `ec2-${running.PublicIpAddress.replaceAll('.', '-')}.compute-1.amazonaws.com`,
  );
  const byIp = await ec2.send(
    new DescribeInstancesCommand({ Filters: [{ Name: 'ip-address', Values: [running.PublicIpAddress] }] }),
  );
  assert.deepEqual(
    byIp.Reservations?.flatMap((r) => r.Instances!.map((i) => i.InstanceId)),
    [instanceId],
  );
  const byName = await ec2.send(
    new DescribeInstancesCommand({ Filters: [{ Name: 'dns-name', Values: [running.PublicDnsName] }] }),
  );
  assert.deepEqual(
    byName.Reservations?.flatMap((r) => r.Instances!.map((i) => i.InstanceId)),
    [instanceId],
  );
  await stop(instanceId);
  const stopped = await describe(instanceId);
  assert.equal(stopped.PublicIpAddress, undefined);
  assert.equal(stopped.PublicDnsName, '');
  await start(instanceId);
  const again = await describe(instanceId);
  assert.ok(again.PublicIpAddress !== undefined && inRange(again.PublicIpAddress, autoAssignedRange));
  assert.notEqual(again.PublicIpAddress, running.PublicIpAddress, 'a new address on each start');
  const other = await describe(await launch());
  assert.notEqual(other.PublicIpAddress, again.PublicIpAddress, 'two instances never share an address');
});

test('an Elastic IP replaces the auto address, stays through stop and start, moves, and comes back off', async () => {
  const first = await launch();
  const second = await launch();
  const autoBefore = (await describe(first)).PublicIpAddress;
  const eip = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
  assert.match(eip.AllocationId ?? '', /^eipalloc-[0-9a-f]{17}$/);
  assert.ok(eip.PublicIp !== undefined && inRange(eip.PublicIp, elasticRange));
  assert.equal(eip.Domain, 'vpc');
  const assoc = await ec2.send(
    new AssociateAddressCommand({ AllocationId: eip.AllocationId!, InstanceId: first }),
  );
  assert.match(assoc.AssociationId ?? '', /^eipassoc-[0-9a-f]{17}$/);
  assert.equal((await describe(first)).PublicIpAddress, eip.PublicIp);
  const free = await ec2.send(
    new DescribeInstancesCommand({ Filters: [{ Name: 'ip-address', Values: [autoBefore!] }] }),
  );
  assert.equal(free.Reservations?.length ?? 0, 0, 'the auto address went back to the pool');

  await stop(first);
  assert.equal((await describe(first)).PublicIpAddress, eip.PublicIp, 'an Elastic IP stays while stopped');
  await start(first);
  assert.equal((await describe(first)).PublicIpAddress, eip.PublicIp);

  await expectEc2Error(
    ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId!, InstanceId: second })),
    'Resource.AlreadyAssociated',
  );
  await expectEc2Error(
    ec2.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId! })),
    'InvalidIPAddress.InUse',
  );
  const moved = await ec2.send(
    new AssociateAddressCommand({
      AllocationId: eip.AllocationId!,
      InstanceId: second,
      AllowReassociation: true,
    }),
  );
  assert.equal((await describe(second)).PublicIpAddress, eip.PublicIp);
  const firstNow = (await describe(first)).PublicIpAddress;
  assert.ok(
    firstNow !== undefined && inRange(firstNow, autoAssignedRange),
    'the running instance it left gets an auto address',
  );

  await ec2.send(new DisassociateAddressCommand({ AssociationId: moved.AssociationId! }));
  const secondNow = (await describe(second)).PublicIpAddress;
  assert.ok(secondNow !== undefined && inRange(secondNow, autoAssignedRange));
  await expectEc2Error(
    ec2.send(new DisassociateAddressCommand({ AssociationId: moved.AssociationId! })),
    'InvalidAssociationID.NotFound',
  );
  await ec2.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId! }));
  await expectEc2Error(
    ec2.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId! })),
    'InvalidAllocationID.NotFound',
  );
});

test('terminating an instance disassociates its Elastic IP, which stays allocated', async () => {
  const instanceId = await launch();
  const eip = await ec2.send(new AllocateAddressCommand({}));
  await ec2.send(new AssociateAddressCommand({ PublicIp: eip.PublicIp!, InstanceId: instanceId }));
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
  await settle();
  const [address] =
    (await ec2.send(new DescribeAddressesCommand({ AllocationIds: [eip.AllocationId!] }))).Addresses ?? [];
  assert.equal(address?.InstanceId, undefined);
  assert.equal(address?.AssociationId, undefined);
  assert.equal((await describe(instanceId)).PublicIpAddress, undefined);
  await expectEc2Error(
    ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId!, InstanceId: instanceId })),
    'IncorrectInstanceState',
  );
  await ec2.send(new ReleaseAddressCommand({ PublicIp: eip.PublicIp! }));
});

test('DescribeAddresses: by id and address, every filter, tags; errors for the missing', async () => {
  await releaseAll();
  const instanceId = await launch();
  const tagged = await ec2.send(
    new AllocateAddressCommand({
      TagSpecifications: [{ ResourceType: 'elastic-ip', Tags: [{ Key: 'role', Value: 'web' }] }],
    }),
  );
  const plain = await ec2.send(new AllocateAddressCommand({}));
  const assoc = await ec2.send(
    new AssociateAddressCommand({ AllocationId: tagged.AllocationId!, InstanceId: instanceId }),
  );
  const ids = async (input: DescribeAddressesCommandInput) =>
    ((await ec2.send(new DescribeAddressesCommand(input))).Addresses ?? []).map((a) => a.AllocationId).sort();
  const both = [tagged.AllocationId, plain.AllocationId].sort();
  assert.deepEqual(await ids({}), both);
  assert.deepEqual(await ids({ PublicIps: [plain.PublicIp!] }), [plain.AllocationId]);
  assert.deepEqual(await ids({ AllocationIds: [tagged.AllocationId!] }), [tagged.AllocationId]);
  for (const [name, value] of [
    ['allocation-id', tagged.AllocationId!],
    ['association-id', assoc.AssociationId!],
    ['instance-id', instanceId],
    ['public-ip', tagged.PublicIp!],
    ['tag:role', 'web'],
  ] as const) {
    assert.deepEqual(await ids({ Filters: [{ Name: name, Values: [value] }] }), [tagged.AllocationId], name);
  }
  assert.deepEqual(await ids({ Filters: [{ Name: 'domain', Values: ['vpc'] }] }), both);
  const [shown] = (await ec2.send(new DescribeAddressesCommand({ AllocationIds: [tagged.AllocationId!] })))
    .Addresses!;
  assert.equal(shown?.InstanceId, instanceId);
  assert.equal(shown?.AssociationId, assoc.AssociationId);
  assert.deepEqual(shown?.Tags, [{ Key: 'role', Value: 'web' }]);
  await ec2.send(
    new CreateTagsCommand({ Resources: [plain.AllocationId!], Tags: [{ Key: 'role', Value: 'db' }] }),
  );
  assert.deepEqual(await ids({ Filters: [{ Name: 'tag:role', Values: ['db'] }] }), [plain.AllocationId]);
  await expectEc2Error(
    ec2.send(new DescribeAddressesCommand({ AllocationIds: ['eipalloc-0123456789abcdef0'] })),
    'InvalidAllocationID.NotFound',
  );
  await expectEc2Error(
    ec2.send(new DescribeAddressesCommand({ PublicIps: ['127.100.250.250'] })),
    'InvalidAddress.NotFound',
  );
  await expectEc2Error(
    ec2.send(new DescribeAddressesCommand({ Filters: [{ Name: 'bogus', Values: ['x'] }] })),
    'InvalidParameterValue',
  );
  await expectEc2Error(ec2.send(new AllocateAddressCommand({ Domain: 'standard' })), 'InvalidParameterValue');
  await expectEc2Error(
    ec2.send(new AssociateAddressCommand({ AllocationId: plain.AllocationId! })),
    'MissingParameter',
  );
  await expectEc2Error(
    ec2.send(
      new AssociateAddressCommand({ AllocationId: plain.AllocationId!, InstanceId: 'i-0123456789abcdef0' }),
    ),
    'InvalidInstanceID.NotFound',
  );
  await releaseAll();
});

test('Elastic IPs: the account quota is AddressLimitExceeded; other accounts see and touch none of them', async () => {
  await releaseAll();
  const mine = [];
  for (let i = 0; i < limits.elasticAddressesPerAccountMax; i++)
    mine.push(await ec2.send(new AllocateAddressCommand({})));
  await expectEc2Error(ec2.send(new AllocateAddressCommand({})), 'AddressLimitExceeded');
  const instanceId = await launch();
  const bob = strata.ec2(await strata.createAccount('bob-addresses'));
  const eip = mine[0]!;
  assert.deepEqual((await bob.send(new DescribeAddressesCommand({}))).Addresses ?? [], []);
  await expectEc2Error(
    bob.send(new DescribeAddressesCommand({ AllocationIds: [eip.AllocationId!] })),
    'InvalidAllocationID.NotFound',
  );
  await expectEc2Error(
    bob.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId! })),
    'InvalidAllocationID.NotFound',
  );
  const bobImage = await registerImage(bob, await snapshotWithData(strata, bob, 'BOB'));
  const bobInstance = await launch(bob, bobImage);
  await expectEc2Error(
    bob.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId!, InstanceId: bobInstance })),
    'InvalidAllocationID.NotFound',
  );
  const bobs = await bob.send(new AllocateAddressCommand({}));
  await expectEc2Error(
    bob.send(new AssociateAddressCommand({ AllocationId: bobs.AllocationId!, InstanceId: instanceId })),
    'InvalidInstanceID.NotFound',
  );
  await releaseAll();
  await releaseAll(bob);
});

test('the address service: a bounded pool exhausted cleanly, NetworkRefresh on each change, NetworkInterfaceId targets', async () => {
  const { db, regions, logger } = strata.cloud;
  const instanceId = await launch();
  let changes = 0;
  let wanted = true;
  const network = { interfaceId: 'eni-0123456789abcdef0', privateIp: '172.31.0.9' } as InstanceNetwork;
  const service = new AddressService({
    db,
    regions,
    logger,
    tags: new TagService(db, strata.cloud.ebs.paginator),
    refresh: { changed: () => changes++ },
    wantsPublicAddress: async () => wanted,
    networks: { networkOf: async (id) => (id === instanceId ? network : undefined) },
    ranges: { auto: autoAssignedRange, elastic: { first: '127.100.254.1', last: '127.100.254.2' } },
  });
  await releaseAll();
  const admin = strata.admin.accountId;
  const a = await service.allocate(admin, undefined, [], noDryRun);
  await service.allocate(admin, undefined, [], noDryRun);
  await assert.rejects(service.allocate(admin, undefined, [], noDryRun), /maximum number of addresses/);
  const request = {
    allocationId: a.row.allocation_id,
    publicIp: undefined,
    instanceId: undefined,
    allowReassociation: false,
  };
  await service.associate(admin, { ...request, networkInterfaceId: network.interfaceId, dryRun: noDryRun });
  assert.equal(changes, 1);
  assert.deepEqual(await service.publicAddressOf(instanceId), {
    ip: a.row.public_ip,
    dnsName: `ec2-${a.row.public_ip.replaceAll('.', '-')}.compute-1.amazonaws.com`,
  });
  const [described] = await service.describe(admin, [a.row.public_ip], [], []);
  assert.equal(described?.row.network_interface_id, network.interfaceId);
  assert.equal(described?.row.private_ip, network.privateIp);
  await assert.rejects(
    service.associate(admin, { ...request, networkInterfaceId: 'eni-00000000000000000', dryRun: noDryRun }),
    /does not exist/,
  );
  wanted = false;
  await service.disassociate(admin, described!.row.association_id!, undefined, noDryRun);
  assert.equal(changes, 2);
  assert.equal(
    await service.publicAddressOf(instanceId),
    undefined,
    'an instance that wants none gets none back',
  );
  await releaseAll();
});
