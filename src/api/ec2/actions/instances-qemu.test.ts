// End to end with real peers: `strata serve --demo-image` builds the demo image, uploads it into a volume
// through the store, snapshots and registers it; RunInstances launches it with RunInstances under the QEMU driver (TCG), booting from the
// daemon's NBD server; the guest's boot marker is read through GetConsoleOutput.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  EC2Client,
  GetConsoleOutputCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { silentLogger } from '../../../base/log.ts';
import { findDemoImageSources } from '../../../compute/image/demo-image.ts';
import { demoImageName } from '../../../cloud/demo-ami.ts';
import { BOOT_MARKER } from '../../../compute/image/guest-files.ts';
import { createQemuDriver } from '../../../compute/qemu/qemu-driver.ts';
import { startDaemon } from '../../../daemon/daemon.ts';

const bootTimeoutMs = 90_000;

async function skipReason(): Promise<string | undefined> {
  try {
    await promisify(execFile)('qemu-system-x86_64', ['--version']);
    await findDemoImageSources();
    return undefined;
  } catch (error) {
    return `needs qemu-system-x86_64 and the demo image's inputs: ${(error as Error).message}`;
  }
}

test('RunInstances boots the demo image under QEMU and GetConsoleOutput shows its marker', async (t) => {
  const reason = await skipReason();
  if (reason !== undefined) return t.skip(reason);
  const dir = await mkdtemp(join(tmpdir(), 'strata-e2e-'));
  const dataDir = join(dir, 'data');
  const daemon = await startDaemon({
    dataDir,
    listen: { host: '127.0.0.1', port: 0 },
    hypervisor: 'qemu',
    demoImage: true,
    vmDriver: createQemuDriver({ stateDir: dataDir, accelerator: 'tcg', logger: silentLogger }),
    logger: silentLogger,
  }).catch(async (error: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw error;
  });
  const ec2 = new EC2Client({
    endpoint: daemon.endpoint,
    region: daemon.cloud.regions.region,
    credentials: daemon.admin,
    maxAttempts: 1,
  });
  let instanceId: string | undefined;
  try {
    const images = await ec2.send(
      new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'name', Values: [demoImageName] }] }),
    );
    const imageId = images.Images?.[0]?.ImageId;
    assert.ok(imageId, 'strata serve --demo-image registered the demo AMI');
    const snapshotId = images.Images?.[0]?.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId;
    assert.ok(snapshotId && daemon.cloud.store.device(snapshotId)?.kind === 'snapshot');
    const run = await ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1 }));
    instanceId = run.Instances![0]!.InstanceId!;
    const started = Date.now();
    let output = '';
    while (!output.includes(`${BOOT_MARKER} count=1`)) {
      assert.ok(
        Date.now() - started < bootTimeoutMs,
        `the guest printed its marker within ${bootTimeoutMs} ms`,
      );
      await new Promise((resolve) => setTimeout(resolve, 250));
      const console = await ec2.send(new GetConsoleOutputCommand({ InstanceId: instanceId, Latest: true }));
      output = Buffer.from(console.Output ?? '', 'base64').toString();
    }
    t.diagnostic(`boot to marker: ${Date.now() - started} ms (TCG)`);
    const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    assert.equal(described.Reservations?.[0]?.Instances?.[0]?.State?.Name, 'running');
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    await daemon.cloud.compute.idle();
    const after = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    assert.equal(after.Reservations?.[0]?.Instances?.[0]?.State?.Name, 'terminated');
  } finally {
    if (instanceId !== undefined) await daemon.cloud.compute.driver.destroy(instanceId);
    ec2.destroy();
    await daemon.close();
    await rm(dir, { recursive: true, force: true });
  }
});
