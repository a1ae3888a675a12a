// Daemon restart with VMs that outlive the daemon: a second daemon on the same data dir and the same fake
// "host" adopts the running VM (the instance stays running and keeps answering), and settles the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeInstancesCommand,
  EC2Client,
  GetConsoleOutputCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { silentLogger } from '../../../base/log.ts';
import { createFakeDriver, FakeHost } from '../../../compute/fake/fake-driver.ts';
import { BOOT_MARKER } from '../../../compute/image/guest-files.ts';
import { startDaemon, type Daemon } from '../../../daemon/daemon.ts';
import { registerImage, snapshotWithData } from './compute-test-helpers.ts';

function client(daemon: Daemon): EC2Client {
  return new EC2Client({
    endpoint: daemon.endpoint,
    region: daemon.cloud.regions.region,
    credentials: daemon.admin,
    maxAttempts: 1,
  });
}

/** A daemon on `dir` whose fake driver runs VMs on `host`, which outlives the daemon like a real host. */
function startOnFakeHost(dir: string, host: FakeHost, vmsOnShutdown: 'keep' | 'stop'): Promise<Daemon> {
  return startDaemon({
    dataDir: dir,
    listen: { host: '127.0.0.1', port: 0 },
    hypervisor: 'fake',
    vmDriver: createFakeDriver({ host }),
    vmsOnShutdown,
    logger: silentLogger,
  });
}

test('a restarted daemon adopts running VMs and keeps their instances running', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-adopt-'));
  const host = new FakeHost();
  const start = (): Promise<Daemon> => startOnFakeHost(dir, host, 'keep');
  let daemon = await start();
  let ec2 = client(daemon);
  try {
    const strata = { cloud: daemon.cloud, region: daemon.cloud.regions.region };
    const imageId = await registerImage(ec2, await snapshotWithData(strata, ec2, 'adopt'));
    const run = await ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 2, MaxCount: 2 }));
    const [kept, stopped] = run.Instances!.map((i) => i.InstanceId!) as [string, string];
    await daemon.cloud.compute.idle();
    await ec2.send(new StopInstancesCommand({ InstanceIds: [stopped] }));
    await daemon.cloud.compute.idle();
    ec2.destroy();
    await daemon.close();
    assert.equal(host.vms.get(kept)?.running, true, 'the VM outlives the daemon');
    daemon = await start();
    ec2 = client(daemon);
    await daemon.cloud.compute.idle();
    const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [kept, stopped] }));
    const states = described
      .Reservations!.flatMap((r) => r.Instances!)
      .map((i) => [i.InstanceId, i.State?.Name]);
    assert.deepEqual(
      new Map(states as [string, string][]),
      new Map([
        [kept, 'running'],
        [stopped, 'stopped'],
      ]),
    );
    const output = await ec2.send(new GetConsoleOutputCommand({ InstanceId: kept }));
    assert.match(Buffer.from(output.Output ?? '', 'base64').toString(), new RegExp(`${BOOT_MARKER} count=1`));
    // The adopted VM answers to the new daemon: stopping it goes through the new driver's events.
    await ec2.send(new StopInstancesCommand({ InstanceIds: [kept] }));
    await daemon.cloud.compute.idle();
    const after = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [kept] }));
    assert.equal(after.Reservations?.[0]?.Instances?.[0]?.State?.Name, 'stopped');
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [kept, stopped] }));
    await daemon.cloud.compute.idle();
  } finally {
    ec2.destroy();
    await daemon.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('with --vms-on-shutdown stop, daemon shutdown stops running instances (Server.ScheduledStop)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-stop-on-shutdown-'));
  const host = new FakeHost();
  const start = (): Promise<Daemon> => startOnFakeHost(dir, host, 'stop');
  let daemon = await start();
  let ec2 = client(daemon);
  try {
    const strata = { cloud: daemon.cloud, region: daemon.cloud.regions.region };
    const imageId = await registerImage(ec2, await snapshotWithData(strata, ec2, 'stop-on-shutdown'));
    const run = await ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1 }));
    const instanceId = run.Instances![0]!.InstanceId!;
    await daemon.cloud.compute.idle();
    assert.equal(host.vms.get(instanceId)?.running, true);
    ec2.destroy();
    await daemon.close();
    assert.notEqual(host.vms.get(instanceId)?.running, true, 'no VM outlives a daemon told to stop them');
    daemon = await start();
    ec2 = client(daemon);
    await daemon.cloud.compute.idle();
    const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const instance = described.Reservations?.[0]?.Instances?.[0];
    assert.equal(instance?.State?.Name, 'stopped');
    assert.equal(instance?.StateReason?.Code, 'Server.ScheduledStop');
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    await daemon.cloud.compute.idle();
  } finally {
    ec2.destroy();
    await daemon.close();
    await rm(dir, { recursive: true, force: true });
  }
});
