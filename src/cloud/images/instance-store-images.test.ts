// Instance-store images through the AWS SDK with the fake driver (the QEMU test boots one for real): what
// RegisterImage accepts as ImageLocation, and that a guest-initiated shutdown terminates such an instance.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  RegisterImageCommand,
  RunInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { runTool } from '../../compute/run-tool.ts';
import { startTestDaemon, type TestDaemon } from '../../api/testing/test-daemon.ts';
import { expectEc2Error } from '../../api/ec2/actions/ebs-test-helpers.ts';
import { imageFile, imagesDir } from './instance-store-images.ts';

let strata: TestDaemon;
let ec2: EC2Client;

before(async () => {
  strata = await startTestDaemon();
  ec2 = strata.ec2();
});
after(() => strata.close());

/** What `strata image import` leaves before RegisterImage: a qcow2 file in the images dir. */
async function importedFile(): Promise<string> {
  await mkdir(imagesDir(strata.dataDir), { recursive: true });
  const name = `import-${randomUUID()}.qcow2`;
  await runTool('qemu-img', ['create', '-q', '-f', 'qcow2', join(imagesDir(strata.dataDir), name), '64M']);
  return name;
}

test('RegisterImage takes as ImageLocation only a file an import put in the images dir', async () => {
  for (const location of ['/etc/passwd', '../credentials', `import-${randomUUID()}.qcow2`]) {
    await expectEc2Error(
      ec2.send(new RegisterImageCommand({ Name: `bad-${randomUUID()}`, ImageLocation: location })),
      'InvalidParameterValue',
    );
  }
  const location = await importedFile();
  await expectEc2Error(
    ec2.send(
      new RegisterImageCommand({
        Name: 'mapped-root',
        ImageLocation: location,
        RootDeviceName: '/dev/sda1',
        BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { VolumeSize: 1 } }],
      }),
    ),
    'InvalidBlockDeviceMapping',
  );
  const { ImageId } = await ec2.send(new RegisterImageCommand({ Name: 'local', ImageLocation: location }));
  assert.ok(ImageId);
  assert.deepEqual(await readdir(imagesDir(strata.dataDir)), [`${ImageId}.qcow2`]);
  const described = await ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId] }));
  assert.equal(described.Images?.[0]?.RootDeviceType, 'instance-store');
  assert.deepEqual(described.Images?.[0]?.BlockDeviceMappings ?? [], []);
});

test('a guest that powers off an instance-store instance terminates it, whatever the behaviour says', async () => {
  const location = await importedFile();
  const { ImageId } = await ec2.send(new RegisterImageCommand({ Name: 'poweroff', ImageLocation: location }));
  const run = await ec2.send(
    new RunInstancesCommand({
      ImageId,
      MinCount: 1,
      MaxCount: 1,
      InstanceInitiatedShutdownBehavior: 'stop',
      UserData: Buffer.from('#!/bin/sh\npoweroff\n').toString('base64'),
    }),
  );
  const instanceId = run.Instances![0]!.InstanceId!;
  const started = Date.now();
  let state: string | undefined;
  while (state !== 'terminated') {
    assert.ok(Date.now() - started < 10_000, `terminated within 10 s (is ${state})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await strata.cloud.compute.idle();
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    state = out.Reservations?.[0]?.Instances?.[0]?.State?.Name;
  }
  await assert.rejects(stat(join(strata.dataDir, 'instance-store', instanceId)), 'the overlay is gone');
  assert.ok((await stat(imageFile(strata.dataDir, ImageId!))).isFile(), 'the registered image file stays');
});
