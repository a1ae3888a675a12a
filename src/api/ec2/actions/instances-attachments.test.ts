// AttachVolume/DetachVolume through the AWS SDK with the fake driver: hot-plug on running instances, mapping
// changes on stopped ones, and every error EC2 answers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AttachVolumeCommand,
  CreateSnapshotsCommand,
  CreateTagsCommand,
  DescribeSnapshotsCommand,
  CreateVolumeCommand,
  DescribeInstancesCommand,
  DescribeVolumesCommand,
  DetachVolumeCommand,
  GetConsoleOutputCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { startTestDaemon, type TestDaemon } from '../../testing/test-daemon.ts';
import { expectEc2Error } from './ebs-test-helpers.ts';
import { registerImage, snapshotWithData } from './compute-test-helpers.ts';

let strata: TestDaemon;
let ec2: EC2Client;
let instanceId: string;
let rootVolumeId: string;

before(async () => {
  strata = await startTestDaemon();
  ec2 = strata.ec2();
  const imageId = await registerImage(ec2, await snapshotWithData(strata, ec2, 'attach'));
  const out = await ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1 }));
  instanceId = out.Instances![0]!.InstanceId!;
  await settle();
  const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  rootVolumeId = described.Reservations![0]!.Instances![0]!.BlockDeviceMappings![0]!.Ebs!.VolumeId!;
});
after(() => strata.close());

async function settle(): Promise<void> {
  await strata.cloud.compute.idle();
  await strata.cloud.ebs.idle();
}

async function newVolume(zone = `${strata.region}a`): Promise<string> {
  const out = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, Size: 1 }));
  await settle();
  return out.VolumeId!;
}

async function volumeState(volumeId: string): Promise<string | undefined> {
  return (await ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }))).Volumes?.[0]?.State;
}

async function consoleText(): Promise<string> {
  const out = await ec2.send(new GetConsoleOutputCommand({ InstanceId: instanceId }));
  return Buffer.from(out.Output ?? '', 'base64').toString();
}

test('AttachVolume hot-plugs into a running instance; DetachVolume unplugs it', async () => {
  const volumeId = await newVolume();
  const attached = await ec2.send(
    new AttachVolumeCommand({ VolumeId: volumeId, InstanceId: instanceId, Device: '/dev/sdf' }),
  );
  assert.deepEqual(
    [attached.State, attached.Device, attached.InstanceId],
    ['attaching', '/dev/sdf', instanceId],
  );
  await settle();
  assert.equal(await volumeState(volumeId), 'in-use');
  assert.ok((await consoleText()).includes(volumeId), 'the guest sees the new disk');
  const { Volumes } = await ec2.send(
    new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [instanceId] }] }),
  );
  assert.deepEqual(Volumes?.map((v) => v.VolumeId).sort(), [rootVolumeId, volumeId].sort());
  const attachment = Volumes?.find((v) => v.VolumeId === volumeId)?.Attachments?.[0];
  assert.deepEqual(
    [attachment?.InstanceId, attachment?.Device, attachment?.State, attachment?.DeleteOnTermination],
    [instanceId, '/dev/sdf', 'attached', false],
  );
  const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  const mapping = described.Reservations![0]!.Instances![0]!.BlockDeviceMappings!.find(
    (m) => m.DeviceName === '/dev/sdf',
  );
  assert.deepEqual([mapping?.Ebs?.VolumeId, mapping?.Ebs?.Status], [volumeId, 'attached']);
  const detached = await ec2.send(new DetachVolumeCommand({ VolumeId: volumeId }));
  assert.equal(detached.State, 'detaching');
  await settle();
  assert.equal(await volumeState(volumeId), 'available');
  assert.ok(!(await consoleText()).split('\n').at(-2)?.includes(volumeId), 'the guest lost the disk');
});

test('attach errors: ZoneMismatch, VolumeInUse, taken device, bad device, IncorrectState, NotFound', async () => {
  const volumeId = await newVolume();
  const attach = (input: { VolumeId?: string; InstanceId?: string; Device?: string }) =>
    ec2.send(
      new AttachVolumeCommand({ VolumeId: volumeId, InstanceId: instanceId, Device: '/dev/sdg', ...input }),
    );
  await expectEc2Error(
    attach({ VolumeId: await newVolume(`${strata.region}b`) }),
    'InvalidVolume.ZoneMismatch',
  );
  await expectEc2Error(attach({ Device: '/dev/xvda' }), 'InvalidParameterValue');
  await expectEc2Error(attach({ Device: 'sdg' }), 'InvalidParameterValue');
  await expectEc2Error(attach({ VolumeId: rootVolumeId }), 'VolumeInUse');
  await expectEc2Error(attach({ VolumeId: 'vol-0123456789abcdef0' }), 'InvalidVolume.NotFound');
  await expectEc2Error(attach({ InstanceId: 'i-0123456789abcdef0' }), 'InvalidInstanceID.NotFound');
  await expectEc2Error(ec2.send(new DetachVolumeCommand({ VolumeId: volumeId })), 'IncorrectState');
  await expectEc2Error(ec2.send(new DetachVolumeCommand({ VolumeId: rootVolumeId })), 'IncorrectState');
  await expectEc2Error(
    ec2.send(new DetachVolumeCommand({ VolumeId: rootVolumeId, InstanceId: 'i-0123456789abcdef0' })),
    'InvalidAttachment.NotFound',
  );
  await expectEc2Error(attach({ DryRun: true } as never), 'DryRunOperation');
});

test('CreateSnapshots snapshots every volume of the instance, minus the excluded ones', async () => {
  const dataId = await newVolume();
  await ec2.send(new CreateTagsCommand({ Resources: [dataId], Tags: [{ Key: 'disk', Value: 'data' }] }));
  await ec2.send(new AttachVolumeCommand({ VolumeId: dataId, InstanceId: instanceId, Device: '/dev/sdk' }));
  await settle();
  const all = await ec2.send(
    new CreateSnapshotsCommand({
      InstanceSpecification: { InstanceId: instanceId },
      Description: 'set',
      CopyTagsFromSource: 'volume',
      TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'set', Value: '1' }] }],
    }),
  );
  assert.deepEqual(
    all.Snapshots?.map((s) => s.VolumeId),
    [rootVolumeId, dataId],
  );
  const data = all.Snapshots?.[1];
  assert.deepEqual(data?.Tags?.map((t) => `${t.Key}=${t.Value}`).sort(), ['disk=data', 'set=1']);
  const some = await ec2.send(
    new CreateSnapshotsCommand({
      InstanceSpecification: { InstanceId: instanceId, ExcludeBootVolume: true },
    }),
  );
  assert.deepEqual(
    some.Snapshots?.map((s) => s.VolumeId),
    [dataId],
  );
  const none = await ec2.send(
    new CreateSnapshotsCommand({
      InstanceSpecification: {
        InstanceId: instanceId,
        ExcludeBootVolume: true,
        ExcludeDataVolumeIds: [dataId],
      },
    }),
  );
  assert.deepEqual(none.Snapshots ?? [], []);
  await settle();
  const { Snapshots } = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [data!.SnapshotId!] }));
  assert.equal(Snapshots?.[0]?.State, 'completed');
  await ec2.send(new DetachVolumeCommand({ VolumeId: dataId }));
  await settle();
});

test('a stopped instance gets the mapping only; the next start boots with it; Force detaches', async () => {
  await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
  await settle();
  const volumeId = await newVolume();
  await ec2.send(new AttachVolumeCommand({ VolumeId: volumeId, InstanceId: instanceId, Device: '/dev/sdh' }));
  await settle();
  assert.equal(await volumeState(volumeId), 'in-use');
  await ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] }));
  await settle();
  assert.ok((await consoleText()).includes(volumeId), 'booted with the new disk');
  await ec2.send(new DetachVolumeCommand({ VolumeId: volumeId, Force: true }));
  await settle();
  assert.equal(await volumeState(volumeId), 'available');
  // The root of a stopped instance may be detached; it then cannot start until a root is attached again.
  await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
  await settle();
  await ec2.send(new DetachVolumeCommand({ VolumeId: rootVolumeId }));
  await settle();
  await expectEc2Error(
    ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] })),
    'IncorrectInstanceState',
  );
  await ec2.send(
    new AttachVolumeCommand({ VolumeId: rootVolumeId, InstanceId: instanceId, Device: '/dev/xvda' }),
  );
  await settle();
  await ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] }));
  await settle();
  const running = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  assert.equal(running.Reservations?.[0]?.Instances?.[0]?.State?.Name, 'running');
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
  await settle();
  // Re-attached through AttachVolume, the root no longer has DeleteOnTermination (EC2's default): it stays.
  assert.equal(await volumeState(rootVolumeId), 'available');
});
