// Instances through the AWS SDK against an in-process daemon with the fake driver: RunInstances with real
// volumes cloned from the image's snapshots, the EC2 state machine and its codes, guest power-off, attributes,
// console output, filters, paging, idempotency and restart reconciliation.
import { after, before, test } from 'node:test';
import { open, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import {
  CreateImageCommand,
  DeleteSnapshotCommand,
  DescribeImagesCommand,
  DescribeSnapshotsCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeInstanceStatusCommand,
  DescribeInstanceTypesCommand,
  DescribeVolumesCommand,
  GetConsoleOutputCommand,
  ModifyInstanceAttributeCommand,
  RebootInstancesCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type Instance,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import { startTestDaemon, type TestDaemon } from '../../testing/test-daemon.ts';
import { units } from '../../../base/limits.ts';
import { BOOT_MARKER } from '../../../compute/image/guest-files.ts';
import { expectEc2Error } from './ebs-test-helpers.ts';
import { launch, registerImage, settled, snapshotWithData } from './compute-test-helpers.ts';

let strata: TestDaemon;
let ec2: EC2Client;
let snapshotId: string;
let imageId: string;

before(async () => {
  strata = await startTestDaemon();
  ec2 = strata.ec2();
  snapshotId = await snapshotWithData(strata, ec2, 'ROOT-MARKER', 2);
  imageId = await registerImage(ec2, snapshotId, {
    BlockDeviceMappings: [
      { DeviceName: '/dev/xvda', Ebs: { SnapshotId: snapshotId, DeleteOnTermination: true } },
      { DeviceName: '/dev/sdf', Ebs: { VolumeSize: 1, DeleteOnTermination: false } },
    ],
  });
});
after(() => strata.close());

const settle = (): Promise<void> => settled(strata);
const run = (input: Partial<RunInstancesCommandInput> = {}): Promise<string[]> =>
  launch(strata, ec2, imageId, input);

async function describe(instanceId: string): Promise<Instance> {
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  const instance = out.Reservations?.[0]?.Instances?.[0];
  assert.ok(instance);
  return instance;
}

async function state(instanceId: string): Promise<[string | undefined, number | undefined]> {
  const { State } = await describe(instanceId);
  return [State?.Name, State?.Code];
}

// The fake guest acts on its own (user data `poweroff` runs after boot), like a real one, so a test waits
// for the state it expects the way SDK waiters do: describe until it shows up, within a deadline.
async function waitForState(instanceId: string, wanted: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    await settle();
    const [name] = await state(instanceId);
    if (name === wanted) return;
    assert.ok(Date.now() < deadline, `${instanceId} reached ${wanted} (it is ${name})`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function console(instanceId: string): Promise<string> {
  const out = await ec2.send(new GetConsoleOutputCommand({ InstanceId: instanceId, Latest: true }));
  return Buffer.from(out.Output ?? '', 'base64').toString('utf8');
}

test('RunInstances: pending, then running, with volumes cloned from the snapshot and in use', async () => {
  const out = await ec2.send(
    new RunInstancesCommand({
      ImageId: imageId,
      MinCount: 2,
      MaxCount: 2,
      InstanceType: 't3.micro',
      Placement: { AvailabilityZone: `${strata.region}b` },
      UserData: Buffer.from('#!/bin/sh\necho hi\n').toString('base64'),
      TagSpecifications: [
        { ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'web' }] },
        { ResourceType: 'volume', Tags: [{ Key: 'owner', Value: 'web' }] },
      ],
    }),
  );
  assert.match(out.ReservationId ?? '', /^r-[0-9a-f]{17}$/);
  assert.equal(out.Instances?.length, 2);
  assert.deepEqual(
    out.Instances?.map((i) => [i.State?.Name, i.State?.Code]),
    [
      ['pending', 0],
      ['pending', 0],
    ],
  );
  assert.deepEqual(
    out.Instances?.map((i) => i.AmiLaunchIndex),
    [0, 1],
  );
  await settle();
  const instanceId = out.Instances![0]!.InstanceId!;
  const instance = await describe(instanceId);
  assert.deepEqual([instance.State?.Name, instance.State?.Code], ['running', 16]);
  assert.equal(instance.InstanceType, 't3.micro');
  assert.equal(instance.Placement?.AvailabilityZone, `${strata.region}b`);
  assert.deepEqual(instance.Tags, [{ Key: 'Name', Value: 'web' }]);
  assert.deepEqual(
    instance.BlockDeviceMappings?.map((m) => m.DeviceName),
    ['/dev/xvda', '/dev/sdf'],
  );
  const rootVolumeId = instance.BlockDeviceMappings![0]!.Ebs!.VolumeId!;
  assert.equal(instance.BlockDeviceMappings![0]!.Ebs!.Status, 'attached');
  const data = await strata.cloud.store.read(rootVolumeId, 0, 11);
  assert.equal(data.toString(), 'ROOT-MARKER');
  assert.equal(strata.cloud.store.device(rootVolumeId)?.sizeBytes, 2 * units.GiB);
  const { Volumes } = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [rootVolumeId] }));
  assert.equal(Volumes?.[0]?.State, 'in-use');
  assert.equal(Volumes?.[0]?.SnapshotId, snapshotId);
  assert.deepEqual(Volumes?.[0]?.Tags, [{ Key: 'owner', Value: 'web' }]);
  assert.match(await console(instanceId), new RegExp(`${BOOT_MARKER} count=1`));
  const userData = await ec2.send(
    new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: 'userData' }),
  );
  assert.equal(Buffer.from(userData.UserData?.Value ?? '', 'base64').toString(), '#!/bin/sh\necho hi\n');
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: out.Instances!.map((i) => i.InstanceId!) }));
  await settle();
});

test('RunInstances: mapping overrides, ephemeral disks, and what EC2 rejects', async () => {
  const [instanceId] = await run({
    BlockDeviceMappings: [
      { DeviceName: '/dev/xvda', Ebs: { VolumeSize: 3, VolumeType: 'gp3' } },
      { DeviceName: '/dev/sdf', NoDevice: '' },
      { DeviceName: '/dev/sdg', Ebs: { VolumeSize: 1, DeleteOnTermination: true } },
      { DeviceName: '/dev/sdh', VirtualName: 'ephemeral0' },
    ],
  });
  const instance = await describe(instanceId!);
  assert.deepEqual(
    instance.BlockDeviceMappings?.map((m) => m.DeviceName),
    ['/dev/xvda', '/dev/sdg'],
  );
  const rootId = instance.BlockDeviceMappings![0]!.Ebs!.VolumeId!;
  const { Volumes } = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [rootId] }));
  assert.deepEqual([Volumes?.[0]?.Size, Volumes?.[0]?.VolumeType], [3, 'gp3']);
  assert.match(await console(instanceId!), /ephemeral0/);
  // Instance-store data does not survive a stop, and the file goes with the instance.
  const scratch = join(strata.dataDir, 'instance-store', instanceId!, 'ephemeral0.img');
  await writeFile(scratch, 'scratch data', { flag: 'r+' });
  await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId!] }));
  await settle();
  const handle = await open(scratch, 'r');
  const head = Buffer.alloc(64);
  await handle.read(head, 0, 64, 0);
  assert.equal((await handle.stat()).size, units.GiB);
  await handle.close();
  assert.ok(
    head.every((byte) => byte === 0),
    'stop emptied the instance-store disk',
  );
  const bad = (input: Partial<RunInstancesCommandInput>, code: string): Promise<void> =>
    expectEc2Error(
      ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, ...input })),
      code,
    );
  await bad(
    { BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeSize: 1 } }] },
    'InvalidBlockDeviceMapping',
  );
  await bad(
    { BlockDeviceMappings: [{ DeviceName: '/dev/xvda', NoDevice: '' }] },
    'InvalidBlockDeviceMapping',
  );
  await bad({ ImageId: 'ami-0123456789abcdef0' }, 'InvalidAMIID.NotFound');
  await bad({ ImageId: 'ami-x' }, 'InvalidAMIID.Malformed');
  await bad({ InstanceType: 'p9.huge' as never }, 'InvalidParameterValue');
  await bad({ Placement: { AvailabilityZone: 'nowhere-1z' } }, 'InvalidParameterValue');
  await bad({ MinCount: 3, MaxCount: 2 }, 'InvalidParameterValue');
  await bad({ MinCount: 50, MaxCount: 50 }, 'InstanceLimitExceeded');
  await bad({ UserData: '!!not base64!!' }, 'InvalidParameterValue');
  await bad(
    { TagSpecifications: [{ ResourceType: 'image', Tags: [{ Key: 'a', Value: 'b' }] }] },
    'InvalidParameterValue',
  );
  await bad({ DryRun: true }, 'DryRunOperation');
  await expectEc2Error(
    ec2.send(new RunInstancesCommand({ ImageId: imageId, MaxCount: 1 } as RunInstancesCommandInput)),
    'MissingParameter',
  );
  await expectEc2Error(
    ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId })),
    'InvalidSnapshot.InUse',
  );
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId!] }));
  await settle();
  await assert.rejects(stat(scratch), { code: 'ENOENT' });
});

test('the EC2 state machine: stop, start, reboot, terminate, with IncorrectInstanceState', async () => {
  const [id] = (await run()) as [string];
  await expectEc2Error(
    ec2.send(new StartInstancesCommand({ InstanceIds: [id], DryRun: true })),
    'DryRunOperation',
  );
  const stop = await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
  assert.deepEqual(
    [
      stop.StoppingInstances?.[0]?.PreviousState?.Name,
      stop.StoppingInstances?.[0]?.CurrentState?.Name,
      stop.StoppingInstances?.[0]?.CurrentState?.Code,
    ],
    ['running', 'stopping', 64],
  );
  await settle();
  assert.deepEqual(await state(id), ['stopped', 80]);
  assert.equal((await describe(id)).StateReason?.Code, 'Client.UserInitiatedShutdown');
  await expectEc2Error(ec2.send(new RebootInstancesCommand({ InstanceIds: [id] })), 'IncorrectInstanceState');
  const again = await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
  assert.equal(again.StoppingInstances?.[0]?.CurrentState?.Name, 'stopped');
  const start = await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
  assert.deepEqual(
    [start.StartingInstances?.[0]?.PreviousState?.Name, start.StartingInstances?.[0]?.CurrentState?.Name],
    ['stopped', 'pending'],
  );
  await settle();
  assert.deepEqual(await state(id), ['running', 16]);
  assert.match(await console(id), new RegExp(`${BOOT_MARKER} count=2`));
  await ec2.send(new RebootInstancesCommand({ InstanceIds: [id] }));
  await settle();
  assert.match(await console(id), new RegExp(`${BOOT_MARKER} count=3`));
  assert.deepEqual(await state(id), ['running', 16]);
  const { BlockDeviceMappings } = await describe(id);
  const [rootId, dataId] = BlockDeviceMappings!.map((m) => m.Ebs!.VolumeId!);
  const term = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  assert.deepEqual(
    [term.TerminatingInstances?.[0]?.CurrentState?.Name, term.TerminatingInstances?.[0]?.CurrentState?.Code],
    ['shutting-down', 32],
  );
  await settle();
  assert.deepEqual(await state(id), ['terminated', 48]);
  await expectEc2Error(ec2.send(new StartInstancesCommand({ InstanceIds: [id] })), 'IncorrectInstanceState');
  await expectEc2Error(ec2.send(new StopInstancesCommand({ InstanceIds: [id] })), 'IncorrectInstanceState');
  const twice = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  assert.equal(twice.TerminatingInstances?.[0]?.CurrentState?.Name, 'terminated');
  // DeleteOnTermination: the root went, the data volume stays, detached.
  await expectEc2Error(
    ec2.send(new DescribeVolumesCommand({ VolumeIds: [rootId!] })),
    'InvalidVolume.NotFound',
  );
  assert.equal(strata.cloud.store.device(rootId!), undefined);
  const { Volumes } = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [dataId!] }));
  assert.equal(Volumes?.[0]?.State, 'available');
  await expectEc2Error(
    ec2.send(new StopInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })),
    'InvalidInstanceID.NotFound',
  );
  await expectEc2Error(
    ec2.send(new StopInstancesCommand({ InstanceIds: ['i-bad'] })),
    'InvalidInstanceID.Malformed',
  );
});

test('a guest that powers off stops or terminates per InstanceInitiatedShutdownBehavior', async () => {
  const poweroff = Buffer.from('#!/bin/sh\npoweroff\n').toString('base64');
  const [stopper] = (await run({ UserData: poweroff })) as [string];
  const [terminator] = (await run({
    UserData: poweroff,
    InstanceInitiatedShutdownBehavior: 'terminate',
  })) as [string];
  await waitForState(stopper, 'stopped');
  await waitForState(terminator, 'terminated');
  assert.deepEqual(await state(stopper), ['stopped', 80]);
  assert.equal((await describe(stopper)).StateReason?.Code, 'Client.InstanceInitiatedShutdown');
  assert.deepEqual(await state(terminator), ['terminated', 48]);
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [stopper] }));
  await settle();
});

test('instance attributes: instanceType only while stopped, disableApiTermination, DeleteOnTermination', async () => {
  const [id] = (await run()) as [string];
  const attr = (
    Attribute:
      | 'instanceType'
      | 'disableApiTermination'
      | 'instanceInitiatedShutdownBehavior'
      | 'blockDeviceMapping'
      | 'rootDeviceName',
  ) => ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: id, Attribute }));
  await expectEc2Error(
    ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, InstanceType: { Value: 't3.small' } })),
    'IncorrectInstanceState',
  );
  await ec2.send(
    new ModifyInstanceAttributeCommand({ InstanceId: id, DisableApiTermination: { Value: true } }),
  );
  assert.equal((await attr('disableApiTermination')).DisableApiTermination?.Value, true);
  await expectEc2Error(
    ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] })),
    'OperationNotPermitted',
  );
  await ec2.send(
    new ModifyInstanceAttributeCommand({ InstanceId: id, DisableApiTermination: { Value: false } }),
  );
  await ec2.send(
    new ModifyInstanceAttributeCommand({
      InstanceId: id,
      InstanceInitiatedShutdownBehavior: { Value: 'terminate' },
    }),
  );
  assert.equal(
    (await attr('instanceInitiatedShutdownBehavior')).InstanceInitiatedShutdownBehavior?.Value,
    'terminate',
  );
  await ec2.send(
    new ModifyInstanceAttributeCommand({
      InstanceId: id,
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { DeleteOnTermination: false } }],
    }),
  );
  const mappings = (await attr('blockDeviceMapping')).BlockDeviceMappings ?? [];
  assert.equal(mappings[0]?.Ebs?.DeleteOnTermination, false);
  assert.equal((await attr('rootDeviceName')).RootDeviceName?.Value, '/dev/xvda');
  await expectEc2Error(
    ec2.send(
      new ModifyInstanceAttributeCommand({
        InstanceId: id,
        BlockDeviceMappings: [{ DeviceName: '/dev/sdz', Ebs: { DeleteOnTermination: false } }],
      }),
    ),
    'InvalidInstanceAttributeValue',
  );
  await ec2.send(new StopInstancesCommand({ InstanceIds: [id], Force: true }));
  await settle();
  await ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, InstanceType: { Value: 't3.small' } }));
  assert.equal((await attr('instanceType')).InstanceType?.Value, 't3.small');
  await expectEc2Error(
    ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, InstanceType: { Value: 'zz.top' } })),
    'InvalidParameterValue',
  );
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  await settle();
  const rootId = mappings[0]?.Ebs?.VolumeId;
  const { Volumes } = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [rootId!] }));
  assert.equal(Volumes?.[0]?.State, 'available');
});

test('DescribeInstanceTypes lists the table with EC2 sizes', async () => {
  const out = await ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: ['t3.micro', 'm5.large'] }));
  const sizes = out.InstanceTypes?.map((t) => [
    t.InstanceType,
    t.VCpuInfo?.DefaultVCpus,
    t.MemoryInfo?.SizeInMiB,
  ]);
  assert.deepEqual(sizes, [
    ['t3.micro', 2, 1024],
    ['m5.large', 2, 8192],
  ]);
  const big = await ec2.send(
    new DescribeInstanceTypesCommand({
      Filters: [
        { Name: 'vcpu-info.default-vcpus', Values: ['8'] },
        { Name: 'instance-type', Values: ['m5.*', 'c5.*'] },
      ],
    }),
  );
  assert.deepEqual(
    big.InstanceTypes?.map((t) => t.InstanceType),
    ['m5.2xlarge', 'c5.2xlarge'],
  );
  await expectEc2Error(
    ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: ['p9.huge' as never] })),
    'InvalidInstanceType',
  );
});

test('DescribeInstances filters and pages; DescribeInstanceStatus; ClientToken; isolation', async () => {
  const ids = await run({
    MinCount: 3,
    MaxCount: 3,
    TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'batch', Value: 'paging' }] }],
  });
  await ec2.send(new StopInstancesCommand({ InstanceIds: [ids[0]!] }));
  await settle();
  const found = async (Filters: { Name: string; Values: string[] }[]): Promise<string[]> => {
    const out = await ec2.send(new DescribeInstancesCommand({ Filters }));
    return (out.Reservations ?? [])
      .flatMap((r) => r.Instances ?? [])
      .map((i) => i.InstanceId!)
      .sort();
  };
  const batch = { Name: 'tag:batch', Values: ['paging'] };
  assert.deepEqual(await found([batch]), [...ids].sort());
  assert.deepEqual(await found([batch, { Name: 'instance-state-name', Values: ['stopped'] }]), [ids[0]]);
  assert.deepEqual(
    await found([
      batch,
      { Name: 'instance-id', Values: [ids[1]!] },
      { Name: 'image-id', Values: [imageId] },
      { Name: 'instance-type', Values: ['t2.micro'] },
      { Name: 'availability-zone', Values: [`${strata.region}a`] },
    ]),
    [ids[1]],
  );
  const volumeId = (await describe(ids[2]!)).BlockDeviceMappings![0]!.Ebs!.VolumeId!;
  assert.deepEqual(await found([{ Name: 'block-device-mapping.volume-id', Values: [volumeId] }]), [ids[2]]);
  await expectEc2Error(found([{ Name: 'no-such-filter', Values: ['x'] }]), 'InvalidParameterValue');
  const seen: string[] = [];
  let token: string | undefined;
  do {
    const page = await ec2.send(
      new DescribeInstancesCommand({ Filters: [batch], MaxResults: 5, NextToken: token }),
    );
    seen.push(...(page.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId!));
    token = page.NextToken;
  } while (token);
  assert.deepEqual(seen.sort(), [...ids].sort());
  const status = await ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: ids }));
  assert.deepEqual(status.InstanceStatuses?.map((s) => s.InstanceId).sort(), [ids[1], ids[2]].sort());
  assert.equal(status.InstanceStatuses?.[0]?.InstanceStatus?.Status, 'ok');
  const all = await ec2.send(
    new DescribeInstanceStatusCommand({ InstanceIds: ids, IncludeAllInstances: true }),
  );
  assert.equal(all.InstanceStatuses?.length, 3);
  // Two retries in flight at once still make one reservation.
  const once = { ImageId: imageId, MinCount: 1, MaxCount: 1, ClientToken: 'run-once' };
  const [first, second] = await Promise.all([
    ec2.send(new RunInstancesCommand(once)),
    ec2.send(new RunInstancesCommand(once)),
  ]);
  assert.equal(second.ReservationId, first.ReservationId);
  assert.equal(second.Instances?.[0]?.InstanceId, first.Instances?.[0]?.InstanceId);
  await expectEc2Error(
    ec2.send(
      new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 2, ClientToken: 'run-once' }),
    ),
    'IdempotentParameterMismatch',
  );
  const bob = strata.ec2(await strata.createAccount('bob-instances'));
  await expectEc2Error(
    bob.send(new DescribeInstancesCommand({ InstanceIds: [ids[1]!] })),
    'InvalidInstanceID.NotFound',
  );
  await expectEc2Error(
    bob.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1 })),
    'InvalidAMIID.NotFound',
  );
  await expectEc2Error(
    bob.send(new TerminateInstancesCommand({ InstanceIds: [ids[1]!] })),
    'InvalidInstanceID.NotFound',
  );
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [...ids, first.Instances![0]!.InstanceId!] }));
  await settle();
});

test('a daemon restart reconciles instances with what the driver still runs', async () => {
  const [id] = (await run()) as [string];
  const [stopped] = (await run()) as [string];
  await ec2.send(new StopInstancesCommand({ InstanceIds: [stopped] }));
  await settle();
  // The test daemon's fake driver lives in the daemon's memory: after a restart its VMs are gone, as after
  // a host reboot, so a running instance becomes stopped (Server.InternalError) and a stopped one stays.
  await strata.restart();
  await settle();
  assert.deepEqual(await state(id), ['stopped', 80]);
  assert.equal((await describe(id)).StateReason?.Code, 'Server.InternalError');
  assert.deepEqual(await state(stopped), ['stopped', 80]);
  await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
  await settle();
  assert.deepEqual(await state(id), ['running', 16]);
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id, stopped] }));
  await settle();
  assert.deepEqual(await state(id), ['terminated', 48]);
});

test('CreateImage snapshots every volume (rebooting unless NoReboot) into an image that launches', async () => {
  const [id] = (await run()) as [string];
  const rootId = (await describe(id)).BlockDeviceMappings![0]!.Ebs!.VolumeId!;
  await strata.cloud.store.write(rootId, 0, Buffer.from('IMAGED-ROOT'));
  const created = await ec2.send(
    new CreateImageCommand({
      InstanceId: id,
      Name: `from-${id}`,
      BlockDeviceMappings: [{ DeviceName: '/dev/sdf', NoDevice: '' }],
      TagSpecifications: [
        { ResourceType: 'image', Tags: [{ Key: 'kind', Value: 'golden' }] },
        { ResourceType: 'snapshot', Tags: [{ Key: 'kind', Value: 'golden-disk' }] },
      ],
    }),
  );
  const newImageId = created.ImageId!;
  await settle();
  // The reboot is a shutdown and boot of the VM: the guest boots a second time, the instance stays running.
  assert.match(await console(id), new RegExp(`${BOOT_MARKER} count=2`));
  assert.deepEqual(await state(id), ['running', 16]);
  const { Images } = await ec2.send(new DescribeImagesCommand({ ImageIds: [newImageId] }));
  const image = Images?.[0];
  assert.equal(image?.State, 'available');
  assert.deepEqual(image.Tags, [{ Key: 'kind', Value: 'golden' }]);
  assert.deepEqual(
    image.BlockDeviceMappings?.map((m) => m.DeviceName),
    ['/dev/xvda'],
  );
  const snapId = image.BlockDeviceMappings![0]!.Ebs!.SnapshotId!;
  const { Snapshots } = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapId] }));
  assert.equal(Snapshots?.[0]?.Description, `Created by CreateImage(${id}) for ${newImageId} from ${rootId}`);
  assert.deepEqual(Snapshots?.[0]?.Tags, [{ Key: 'kind', Value: 'golden-disk' }]);
  const launched = await ec2.send(new RunInstancesCommand({ ImageId: newImageId, MinCount: 1, MaxCount: 1 }));
  await settle();
  const clone = launched.Instances![0]!.InstanceId!;
  const cloneRoot = (await describe(clone)).BlockDeviceMappings![0]!.Ebs!.VolumeId!;
  assert.equal((await strata.cloud.store.read(cloneRoot, 0, 11)).toString(), 'IMAGED-ROOT');
  const quiet = await ec2.send(
    new CreateImageCommand({ InstanceId: id, Name: `quiet-${id}`, NoReboot: true }),
  );
  await settle();
  assert.match(await console(id), new RegExp(`${BOOT_MARKER} count=2`));
  assert.doesNotMatch(await console(id), new RegExp(`${BOOT_MARKER} count=3`));
  assert.ok(quiet.ImageId);
  await expectEc2Error(
    ec2.send(new CreateImageCommand({ InstanceId: id, Name: `from-${id}` })),
    'InvalidAMIName.Duplicate',
  );
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id, clone] }));
  await settle();
  await expectEc2Error(
    ec2.send(new CreateImageCommand({ InstanceId: id, Name: `late-${id}` })),
    'IncorrectInstanceState',
  );
});
