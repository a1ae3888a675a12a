// Shared setup for the image and instance tests: a snapshot with real data to register images from.
import assert from 'node:assert/strict';
import {
  CreateSnapshotCommand,
  CreateVolumeCommand,
  RegisterImageCommand,
  RunInstancesCommand,
  type EC2Client,
  type RegisterImageCommandInput,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import type { TestDaemon } from '../../testing/test-daemon.ts';

/** A completed snapshot of a fresh `sizeGiB` volume whose first bytes are `marker`. */
export async function snapshotWithData(
  strata: Pick<TestDaemon, 'cloud' | 'region'>,
  ec2: EC2Client,
  marker: string,
  sizeGiB = 1,
): Promise<string> {
  const volume = await ec2.send(
    new CreateVolumeCommand({ AvailabilityZone: `${strata.region}a`, Size: sizeGiB }),
  );
  await strata.cloud.ebs.idle();
  await strata.cloud.store.write(volume.VolumeId!, 0, Buffer.from(marker.padEnd(512, '\0')));
  const snapshot = await ec2.send(new CreateSnapshotCommand({ VolumeId: volume.VolumeId! }));
  await strata.cloud.ebs.idle();
  assert.ok(snapshot.SnapshotId);
  return snapshot.SnapshotId;
}

/** Waits until no compute or EBS background work is queued (launches, stops, volume creation). */
export async function settled(strata: Pick<TestDaemon, 'cloud'>): Promise<void> {
  await strata.cloud.compute.idle();
  await strata.cloud.ebs.idle();
}

/** RunInstances of `imageId` (one instance unless `input` says otherwise), settled; returns the ids. */
export async function launch(
  strata: Pick<TestDaemon, 'cloud'>,
  ec2: EC2Client,
  imageId: string,
  input: Partial<RunInstancesCommandInput> = {},
): Promise<string[]> {
  const out = await ec2.send(
    new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, ...input }),
  );
  await settled(strata);
  return (out.Instances ?? []).map((i) => i.InstanceId!);
}

let names = 0;

/** Registers an EBS-backed image whose root /dev/xvda is `snapshotId`. */
export async function registerImage(
  ec2: EC2Client,
  snapshotId: string,
  input: Partial<RegisterImageCommandInput> = {},
): Promise<string> {
  const out = await ec2.send(
    new RegisterImageCommand({
      Name: `image-${process.pid}-${++names}`,
      RootDeviceName: '/dev/xvda',
      Architecture: 'x86_64',
      VirtualizationType: 'hvm',
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snapshotId } }],
      ...input,
    }),
  );
  assert.match(out.ImageId ?? '', /^ami-[0-9a-f]{17}$/);
  return out.ImageId!;
}
