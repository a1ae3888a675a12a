// Images and instances on PostgreSQL: the same Kysely queries that run on SQLite (conditional state updates,
// bigint row counts, LIKE, joins through mappings, transactions) exercised once end to end.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AttachVolumeCommand,
  CreateVolumeCommand,
  DeleteSnapshotCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeVolumesCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
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

test('images, the instance state machine and attachments on PostgreSQL', { skip }, async () => {
  assert.ok(strata);
  const daemon = strata;
  const ec2 = daemon.ec2();
  const settle = async (): Promise<void> => {
    await daemon.cloud.compute.idle();
    await daemon.cloud.ebs.idle();
  };
  const snapshotId = await snapshotWithData(daemon, ec2, 'pg');
  const imageId = await registerImage(ec2, snapshotId);
  const filtered = await ec2.send(
    new DescribeImagesCommand({
      Filters: [{ Name: 'block-device-mapping.snapshot-id', Values: [snapshotId] }],
    }),
  );
  assert.deepEqual(
    filtered.Images?.map((i) => i.ImageId),
    [imageId],
  );
  await expectEc2Error(
    ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId })),
    'InvalidSnapshot.InUse',
  );
  const run = await ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 2, MaxCount: 2 }));
  const ids = run.Instances!.map((i) => i.InstanceId!);
  await settle();
  const stateOf = async (id: string): Promise<string | undefined> =>
    (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0]
      ?.State?.Name;
  assert.equal(await stateOf(ids[0]!), 'running');
  await ec2.send(new StopInstancesCommand({ InstanceIds: [ids[0]!] }));
  await settle();
  assert.equal(await stateOf(ids[0]!), 'stopped');
  const volume = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${daemon.region}a`, Size: 1 }));
  await settle();
  await ec2.send(
    new AttachVolumeCommand({ VolumeId: volume.VolumeId!, InstanceId: ids[0]!, Device: '/dev/sdf' }),
  );
  await ec2.send(new StartInstancesCommand({ InstanceIds: [ids[0]!] }));
  await settle();
  assert.equal(await stateOf(ids[0]!), 'running');
  const attached = await ec2.send(
    new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [ids[0]!] }] }),
  );
  assert.equal(attached.Volumes?.length, 2);
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
  await settle();
  assert.deepEqual([await stateOf(ids[0]!), await stateOf(ids[1]!)], ['terminated', 'terminated']);
  const left = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [volume.VolumeId!] }));
  assert.equal(left.Volumes?.[0]?.State, 'available');
});
