// End to end with real peers: the demo image uploaded into a volume through the store, snapshotted and
// registered with the AWS SDK, launched with RunInstances under the QEMU driver (TCG), booting from the
// daemon's NBD server; the guest's boot marker is read through GetConsoleOutput.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CreateSnapshotCommand,
  CreateVolumeCommand,
  DescribeInstancesCommand,
  EC2Client,
  GetConsoleOutputCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { silentLogger } from '../../../base/log.ts';
import { buildDemoImage, findDemoImageSources } from '../../../compute/image/demo-image.ts';
import { BOOT_MARKER } from '../../../compute/image/guest-files.ts';
import { createQemuDriver } from '../../../compute/qemu/qemu-driver.ts';
import { startDaemon, type Daemon } from '../../../daemon/daemon.ts';
import { registerImage } from './compute-test-helpers.ts';

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

// Copies the non-zero MiB chunks of the raw image into the volume, so the volume stays thin.
async function upload(daemon: Daemon, file: string, volumeId: string): Promise<void> {
  const { size } = await stat(file);
  const handle = await open(file, 'r');
  try {
    for (let offset = 0; offset < size; offset += 1024 * 1024) {
      const chunk = Buffer.alloc(Math.min(1024 * 1024, size - offset));
      await handle.read(chunk, 0, chunk.length, offset);
      if (chunk.some((byte) => byte !== 0)) await daemon.cloud.store.write(volumeId, offset, chunk);
    }
  } finally {
    await handle.close();
  }
  await daemon.cloud.store.flush();
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
    vmDriver: createQemuDriver({ stateDir: dataDir, accelerator: 'tcg', logger: silentLogger }),
    logger: silentLogger,
  });
  const ec2 = new EC2Client({
    endpoint: daemon.endpoint,
    region: daemon.cloud.regions.region,
    credentials: daemon.admin,
    maxAttempts: 1,
  });
  let instanceId: string | undefined;
  try {
    await buildDemoImage({ output: join(dir, 'demo.img') });
    const zone = daemon.cloud.regions.zones[0]!.zoneName;
    const volume = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, Size: 1 }));
    await daemon.cloud.ebs.idle();
    await upload(daemon, join(dir, 'demo.img'), volume.VolumeId!);
    const snapshot = await ec2.send(new CreateSnapshotCommand({ VolumeId: volume.VolumeId! }));
    await daemon.cloud.ebs.idle();
    const imageId = await registerImage(ec2, snapshot.SnapshotId!);
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
