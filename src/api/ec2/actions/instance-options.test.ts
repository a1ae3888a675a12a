// Instance details a peer's EC2 test suite found missing (issue 17), through the AWS SDK against a daemon with
// the fake driver: RunInstances' Monitoring, EbsOptimized and Tenancy echoed, older instance types, launch-index
// order, the extra instance attributes and stop protection, credit specifications, UEFI data, type offerings,
// CreateSnapshots' State, EC2's plural not-found wording and VolumeInUse naming the instance.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AttachVolumeCommand,
  CreateSnapshotsCommand,
  CreateVolumeCommand,
  DeleteVolumeCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstanceCreditSpecificationsCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeInstanceTypesCommand,
  GetInstanceUefiDataCommand,
  ModifyInstanceAttributeCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type InstanceAttributeName,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import { startTestDaemon, type TestDaemon } from '../../testing/test-daemon.ts';
import { expectEc2Error } from './ebs-test-helpers.ts';
import { launch, registerImage, settled, snapshotWithData } from './compute-test-helpers.ts';

let strata: TestDaemon;
let ec2: EC2Client;
let imageId: string;

before(async () => {
  strata = await startTestDaemon();
  ec2 = strata.ec2();
  imageId = await registerImage(ec2, await snapshotWithData(strata, ec2, 'ROOT', 1));
});
after(() => strata.close());

const settle = (): Promise<void> => settled(strata);
const run = (input: Partial<RunInstancesCommandInput> = {}): Promise<string[]> =>
  launch(strata, ec2, imageId, input);

async function attribute(instanceId: string, name: InstanceAttributeName) {
  return ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: name }));
}

test('RunInstances echoes Monitoring, EbsOptimized and Tenancy, in the answer and in DescribeInstances', async () => {
  const out = await ec2.send(
    new RunInstancesCommand({
      ImageId: imageId,
      MinCount: 1,
      MaxCount: 1,
      Monitoring: { Enabled: true },
      EbsOptimized: true,
      Placement: { Tenancy: 'dedicated' },
    }),
  );
  const launched = out.Instances?.[0];
  assert.equal(launched?.Monitoring?.State, 'enabled');
  assert.equal(launched?.EbsOptimized, true);
  assert.equal(launched?.Placement?.Tenancy, 'dedicated');
  await settle();
  const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [launched!.InstanceId!] }));
  const instance = described.Reservations?.[0]?.Instances?.[0];
  assert.equal(instance?.Monitoring?.State, 'enabled');
  assert.equal(instance?.EbsOptimized, true);
  assert.equal(instance?.Placement?.Tenancy, 'dedicated');
  assert.equal(instance?.SourceDestCheck, true);
  const [plain] = await run();
  const other = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [plain!] }));
  const defaults = other.Reservations?.[0]?.Instances?.[0];
  assert.equal(defaults?.Monitoring?.State, 'disabled');
  assert.equal(defaults?.EbsOptimized, false);
  assert.equal(defaults?.Placement?.Tenancy, 'default');
  await expectEc2Error(run({ Placement: { Tenancy: 'shared' as 'default' } }), 'InvalidParameterValue');
});

test('older instance types DescribeInstanceTypes lists are accepted; previous generation is marked', async () => {
  const listed = await ec2.send(
    new DescribeInstanceTypesCommand({
      InstanceTypes: ['t1.micro', 'm1.small', 'm3.medium', 'm4.large', 'c4.large', 'r5.large'],
    }),
  );
  const byName = new Map((listed.InstanceTypes ?? []).map((t) => [t.InstanceType, t]));
  assert.equal(byName.size, 6);
  assert.equal(byName.get('m1.small')?.CurrentGeneration, false);
  assert.equal(byName.get('r5.large')?.CurrentGeneration, true);
  for (const type of ['t1.micro', 'm1.small', 'r5.large'] as const) {
    const [id] = await run({ InstanceType: type });
    const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id!] }));
    assert.equal(described.Reservations?.[0]?.Instances?.[0]?.InstanceType, type);
  }
});

test('a reservation lists its instances in AmiLaunchIndex order', async () => {
  const ids = await run({ MinCount: 5, MaxCount: 5 });
  const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [...ids].reverse() }));
  assert.equal(described.Reservations?.length, 1);
  const indexes = described.Reservations?.[0]?.Instances?.map((i) => i.AmiLaunchIndex);
  assert.deepEqual(indexes, [0, 1, 2, 3, 4]);
});

test('DescribeInstanceAttribute answers productCodes, ebsOptimized, sourceDestCheck, enaSupport, disableApiStop, kernel, ramdisk', async () => {
  const [id] = await run({ DisableApiStop: false });
  assert.deepEqual((await attribute(id!, 'productCodes')).ProductCodes, []);
  assert.equal((await attribute(id!, 'ebsOptimized')).EbsOptimized?.Value, false);
  assert.equal((await attribute(id!, 'sourceDestCheck')).SourceDestCheck?.Value, true);
  assert.equal((await attribute(id!, 'enaSupport')).EnaSupport?.Value, true);
  assert.equal((await attribute(id!, 'disableApiStop')).DisableApiStop?.Value, false);
  assert.equal((await attribute(id!, 'kernel')).KernelId?.Value, undefined);
  assert.equal((await attribute(id!, 'ramdisk')).RamdiskId?.Value, undefined);
  assert.equal((await attribute(id!, 'kernel')).InstanceId, id);
});

test('ModifyInstanceAttribute: SourceDestCheck, DisableApiStop (StopInstances refused), Kernel', async () => {
  const [id] = await run();
  await ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, SourceDestCheck: { Value: false } }));
  assert.equal((await attribute(id!, 'sourceDestCheck')).SourceDestCheck?.Value, false);
  await ec2.send(
    new ModifyInstanceAttributeCommand({ InstanceId: id, Attribute: 'sourceDestCheck', Value: 'true' }),
  );
  assert.equal((await attribute(id!, 'sourceDestCheck')).SourceDestCheck?.Value, true);
  await ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, DisableApiStop: { Value: true } }));
  assert.equal((await attribute(id!, 'disableApiStop')).DisableApiStop?.Value, true);
  await assert.rejects(
    ec2.send(new StopInstancesCommand({ InstanceIds: [id!], Force: true })),
    (error: Error) => {
      assert.equal(error.name, 'OperationNotPermitted');
      assert.match(error.message, new RegExp(`${id}.*disableApiStop`));
      return true;
    },
  );
  await ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, DisableApiStop: { Value: false } }));
  await ec2.send(new StopInstancesCommand({ InstanceIds: [id!] }));
  await settle();
  await expectEc2Error(
    ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, Kernel: { Value: 'aki-12345678' } })),
    'UnsupportedOperation',
  );
  const [protectedAtLaunch] = await run({ DisableApiStop: true });
  await expectEc2Error(
    ec2.send(new StopInstancesCommand({ InstanceIds: [protectedAtLaunch!] })),
    'OperationNotPermitted',
  );
});

test('DescribeInstanceCreditSpecifications, GetInstanceUefiData and DescribeInstanceTypeOfferings', async () => {
  const [t2] = await run({ InstanceType: 't2.micro' });
  const [t3] = await run({ InstanceType: 't3.small' });
  const [m5] = await run({ InstanceType: 'm5.large' });
  const credits = await ec2.send(
    new DescribeInstanceCreditSpecificationsCommand({ InstanceIds: [t2!, t3!, m5!] }),
  );
  const modes = new Map(credits.InstanceCreditSpecifications?.map((c) => [c.InstanceId, c.CpuCredits]));
  assert.deepEqual(Object.fromEntries(modes), { [t2!]: 'standard', [t3!]: 'unlimited' });
  const uefi = await ec2.send(new GetInstanceUefiDataCommand({ InstanceId: t2 }));
  assert.equal(uefi.InstanceId, t2);
  await expectEc2Error(
    ec2.send(new GetInstanceUefiDataCommand({ InstanceId: 'i-0123456789abcdef0' })),
    'InvalidInstanceID.NotFound',
  );
  const region = await ec2.send(new DescribeInstanceTypeOfferingsCommand({}));
  assert.ok(
    region.InstanceTypeOfferings?.some((o) => o.InstanceType === 'm1.small' && o.Location === strata.region),
  );
  const zones = await ec2.send(
    new DescribeInstanceTypeOfferingsCommand({
      LocationType: 'availability-zone',
      Filters: [{ Name: 'instance-type', Values: ['t3.micro'] }],
    }),
  );
  assert.deepEqual(
    zones.InstanceTypeOfferings?.map((o) => o.Location),
    strata.cloud.regions.zones.map((z) => z.zoneName),
  );
});

test('CreateSnapshots answers State; not-found lists use the plural; VolumeInUse names the instance', async () => {
  const [id] = await run();
  const taken = await ec2.send(new CreateSnapshotsCommand({ InstanceSpecification: { InstanceId: id } }));
  assert.ok((taken.Snapshots?.length ?? 0) > 0);
  for (const snapshot of taken.Snapshots ?? []) assert.match(snapshot.State ?? '', /^(pending|completed)$/);
  const missing = ['i-0123456789abcdef0', 'i-0123456789abcdef1'];
  await assert.rejects(ec2.send(new DescribeInstancesCommand({ InstanceIds: missing })), (error: Error) => {
    assert.equal(error.message, `The instance IDs '${missing.join(', ')}' do not exist`);
    return true;
  });
  await assert.rejects(
    ec2.send(new TerminateInstancesCommand({ InstanceIds: [missing[0]!] })),
    (error: Error) => {
      assert.equal(error.message, `The instance ID '${missing[0]}' does not exist`);
      return true;
    },
  );
  const volume = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${strata.region}a`, Size: 1 }));
  await settle();
  await ec2.send(new AttachVolumeCommand({ VolumeId: volume.VolumeId, InstanceId: id, Device: '/dev/sdg' }));
  await settle();
  await assert.rejects(ec2.send(new DeleteVolumeCommand({ VolumeId: volume.VolumeId })), (error: Error) => {
    assert.equal(error.name, 'VolumeInUse');
    assert.equal(error.message, `Volume ${volume.VolumeId} is currently attached to ${id}`);
    return true;
  });
  const [other] = await run();
  await assert.rejects(
    ec2.send(new AttachVolumeCommand({ VolumeId: volume.VolumeId, InstanceId: other, Device: '/dev/sdh' })),
    (error: Error) => {
      assert.equal(error.name, 'VolumeInUse');
      assert.match(error.message, new RegExp(`${volume.VolumeId}.*${id}`));
      return true;
    },
  );
});
