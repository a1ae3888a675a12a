// Issue 13 end to end, as a user does it, through the EC2 API only: CreateKeyPair, a security group that
// allows 22, RunInstances of the demo AMI under QEMU (TCG), then OpenSSH's `ssh -i key.pem root@<PublicIp>`
// on port 22 with no extra flags but the host-key ones. Revoking 22 refuses the next connection and
// authorizing it again lets it in, on the running VM; the two instances reach each other on their private
// addresses; an Elastic IP moves from one instance to the other. One daemon, two boots side by side.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateKeyPairCommand,
  CreateSecurityGroupCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  EC2Client,
  ReleaseAddressCommand,
  RevokeSecurityGroupIngressCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type Instance,
} from '@aws-sdk/client-ec2';
import { silentLogger } from '../../../base/log.ts';
import { findDemoImageSources } from '../../../compute/image/demo-image.ts';
import { demoImageName } from '../../../cloud/images/demo-ami.ts';
import { createQemuDriver } from '../../../compute/qemu/qemu-driver.ts';
import { startDaemon, type Daemon } from '../../../daemon/daemon.ts';

const run = promisify(execFile);
const bootTimeoutMs = 180_000;
const ssh22 = { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] };

let skip: string | undefined;
let dir: string;
let daemon: Daemon;
let ec2: EC2Client;
let keyFile: string;
const launched: string[] = [];

before(async () => {
  try {
    await run('qemu-system-x86_64', ['--version']);
    await run('ssh', ['-V']);
    await findDemoImageSources();
  } catch (error) {
    skip = `needs qemu-system-x86_64, ssh and the demo image's inputs: ${(error as Error).message}`;
    return;
  }
  dir = await mkdtemp(join(tmpdir(), 'strata-ssh-'));
  const dataDir = join(dir, 'data');
  daemon = await startDaemon({
    dataDir,
    listen: { host: '127.0.0.1', port: 0 },
    hypervisor: 'qemu',
    demoImage: true,
    vmDriver: createQemuDriver({ stateDir: dataDir, accelerator: 'tcg', logger: silentLogger }),
    logger: silentLogger,
  });
  ec2 = new EC2Client({
    endpoint: daemon.endpoint,
    region: daemon.cloud.regions.region,
    credentials: daemon.admin,
    maxAttempts: 1,
  });
});

after(async () => {
  if (skip !== undefined) return;
  for (const id of launched) await daemon.cloud.compute.driver.destroy(id);
  ec2.destroy();
  await daemon.close();
  await rm(dir, { recursive: true, force: true });
});

/** `ssh -i key.pem root@address command`: its stdout, or the error ssh gave (exit status and stderr). */
async function sshRun(address: string, command: string): Promise<{ ok: boolean; out: string }> {
  const args = ['-i', keyFile, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null'];
  args.push('-o', 'ConnectTimeout=10', '-o', 'BatchMode=yes', `root@${address}`, command);
  try {
    const { stdout } = await run('ssh', args, { timeout: 60_000 });
    return { ok: true, out: stdout };
  } catch (error) {
    return { ok: false, out: String((error as { stderr?: string }).stderr ?? error) };
  }
}

/** Retries ssh until the guest has booted and installed the key from the metadata service. */
async function sshWhenUp(address: string, command: string): Promise<string> {
  const started = Date.now();
  for (;;) {
    const result = await sshRun(address, command);
    if (result.ok) return result.out;
    assert.ok(
      Date.now() - started < bootTimeoutMs,
      `ssh root@${address} within ${bootTimeoutMs} ms: ${result.out}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

async function describe(instanceId: string): Promise<Instance> {
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  const instance = out.Reservations?.[0]?.Instances?.[0];
  assert.ok(instance !== undefined, `${instanceId} is described`);
  return instance;
}

async function running(instanceId: string): Promise<Instance> {
  const started = Date.now();
  for (;;) {
    const instance = await describe(instanceId);
    if (instance.State?.Name === 'running' && instance.PublicIpAddress !== undefined) return instance;
    const seen = JSON.stringify([instance.State, instance.StateReason, instance.PublicIpAddress]);
    assert.ok(Date.now() - started < bootTimeoutMs, `${instanceId} running with a public address: ${seen}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

test('create-key-pair, a group allowing 22, run-instances, then ssh to the public address', async (t) => {
  if (skip !== undefined) return t.skip(skip);
  const key = await ec2.send(new CreateKeyPairCommand({ KeyName: 'e2e' }));
  keyFile = join(dir, 'e2e.pem');
  await writeFile(keyFile, key.KeyMaterial ?? '', { mode: 0o600 });
  const group = await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'ssh', Description: 'ssh in' }));
  const groupId = group.GroupId ?? '';
  await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [ssh22] }));
  // The instances reach each other on 22 through the group itself, whatever the public rule says.
  await ec2.send(
    new AuthorizeSecurityGroupIngressCommand({
      GroupId: groupId,
      IpPermissions: [
        { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, UserIdGroupPairs: [{ GroupId: groupId }] },
      ],
    }),
  );
  const images = await ec2.send(
    new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'name', Values: [demoImageName] }] }),
  );
  const reservation = await ec2.send(
    new RunInstancesCommand({
      ImageId: images.Images?.[0]?.ImageId,
      InstanceType: 't3.micro',
      MinCount: 2,
      MaxCount: 2,
      KeyName: 'e2e',
      SecurityGroupIds: [groupId],
    }),
  );
  const ids = (reservation.Instances ?? []).map((instance) => instance.InstanceId ?? '');
  launched.push(...ids);
  const [a, b] = await Promise.all(ids.map(running));
  assert.ok(a !== undefined && b !== undefined);
  for (const instance of [a, b]) {
    assert.match(instance.PublicIpAddress ?? '', /^127\.100\./);
    assert.match(instance.PrivateIpAddress ?? '', /^172\.31\./);
    assert.equal(instance.KeyName, 'e2e');
    assert.deepEqual(
      instance.SecurityGroups?.map((g) => g.GroupId),
      [groupId],
    );
  }
  const addressesOfA = await sshWhenUp(a.PublicIpAddress ?? '', 'ip -4 addr');
  assert.ok(
    addressesOfA.includes(a.PrivateIpAddress ?? '?'),
    `A's guest has its private IP: ${addressesOfA}`,
  );
  await sshWhenUp(b.PublicIpAddress ?? '', 'true');

  // Inside the VPC: A reaches B's SSH server on B's private address.
  const banner = await sshRun(a.PublicIpAddress ?? '', `echo | nc -w 5 ${b.PrivateIpAddress} 22`);
  assert.match(banner.out, /SSH-2\.0-/, `A reaches B on ${b.PrivateIpAddress}:22`);

  // Revoke 22 from anywhere: the host's next connection is refused; authorize it again: it works.
  await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [ssh22] }));
  await daemon.network?.settled();
  const refused = await sshRun(a.PublicIpAddress ?? '', 'true');
  assert.ok(!refused.ok, 'ssh after the revoke fails');
  assert.match(refused.out, /Connection refused/);
  await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [ssh22] }));
  await daemon.network?.settled();
  assert.equal((await sshRun(a.PublicIpAddress ?? '', 'echo back')).out.trim(), 'back');

  // An Elastic IP: on A, then moved to B.
  const eip = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
  const elastic = eip.PublicIp ?? '';
  await ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId, InstanceId: a.InstanceId }));
  await daemon.network?.settled();
  assert.ok(
    (await sshWhenUp(elastic, 'ip -4 addr')).includes(a.PrivateIpAddress ?? '?'),
    'the EIP reaches A',
  );
  await ec2.send(
    new AssociateAddressCommand({
      AllocationId: eip.AllocationId,
      InstanceId: b.InstanceId,
      AllowReassociation: true,
    }),
  );
  await daemon.network?.settled();
  assert.ok(
    (await sshWhenUp(elastic, 'ip -4 addr')).includes(b.PrivateIpAddress ?? '?'),
    'the EIP moved to B',
  );
  assert.equal((await describe(b.InstanceId ?? '')).PublicIpAddress, elastic);

  await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
  await daemon.cloud.compute.idle();
  await ec2.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId }));
});
