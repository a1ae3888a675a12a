// Instance networking with real QEMU and the demo image, below the API: two guests on one VPC switch, their
// network from a test InstanceNetworkSource and their metadata from a test MetadataSource. The guest installs
// the key it reads from IMDS (v2 token) and runs its user data; `ssh -i key root@<public ip>` gets in; a
// revoked port 22 refuses at once and comes back when allowed again; HttpTokens required refuses IMDSv1 in
// the guest; the guests reach each other's allowed port on private IPs and not a closed one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import { silentLogger } from '../base/log.ts';
import { buildDemoImage } from '../compute/image/demo-image.ts';
import { INSTANCE_MARKER, USER_DATA_MARKER } from '../compute/image/guest-files.ts';
import { createQemuDriver } from '../compute/qemu/qemu-driver.ts';
import { serveFileWithQemuNbd } from '../compute/testing-disks.ts';
import { missingTool } from '../compute/testing-tools.ts';
import { ec2SystemUuid, type VmDriver } from '../compute/vm-driver.ts';
import type { InstanceMetadata } from '../metadata/metadata.ts';
import { instance } from '../metadata/testing/instance-metadata.ts';
import { parseIpv4 } from '../network/frames.ts';
import type { InstanceNetwork } from '../network/instance-network.ts';
import { parseCidr, type PermissionRule } from '../network/security-filter.ts';
import { InstanceNetworking } from './instance-networking.ts';

const BOOT_TIMEOUT_MS = 180_000;
const cidr = (text: string) => parseCidr(text, parseIpv4)!;
const tcp = (port: number, from: string): PermissionRule => ({
  protocol: 'tcp',
  fromPort: port,
  toPort: port,
  cidrs: [cidr(from)],
  groupIds: [],
});
const ssh22 = tcp(22, '0.0.0.0/0');
const web8080 = tcp(8080, '172.31.0.0/16');
const allEgress: PermissionRule = {
  protocol: 'all',
  fromPort: -1,
  toPort: -1,
  cidrs: [cidr('0.0.0.0/0')],
  groupIds: [],
};

// Guest A serves 8080 and 8081; only 8080 is open to the VPC, and only 22 to the host.
const SERVER_USER_DATA = `#!/bin/sh
echo "user data says hello"
mkdir -p /www8080 /www8081
echo server-8080 > /www8080/index.html; httpd -p 8080 -h /www8080
echo server-8081 > /www8081/index.html; httpd -p 8081 -h /www8081
`;

const requiredTools = ['/usr/bin/qemu-system-x86_64', '/usr/bin/qemu-nbd', '/usr/bin/ssh', '/usr/bin/socat'];

function run(command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

test(
  'two demo guests on QEMU: ssh with the IMDS key, user data, live security groups, IMDSv2, private IPs',
  { timeout: 2 * BOOT_TIMEOUT_MS + 120_000 },
  async (t) => {
    const missing = await missingTool(requiredTools);
    if (missing !== null) return t.skip(`needs QEMU, ssh, socat and the demo image: ${missing}`);
    const started = Date.now();
    const dir = await mkdtemp(join(tmpdir(), 'strata-netq-'));
    const cleanups: (() => Promise<unknown>)[] = [];
    t.after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    });
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'key')]);
    const publicKey = (await readFile(join(dir, 'key.pub'), 'utf8')).trim();
    await buildDemoImage({ output: join(dir, 'demo.img') });

    // A /24 of 127.100.0.0/16 of its own, so a parallel run never meets this one's forwards.
    const publicBase = `127.100.${randomInt(100, 200)}`;
    const networks = new Map<string, InstanceNetwork>();
    const metadata = new Map<string, InstanceMetadata>();
    const guest = (id: string, octet: number, userData?: string) => {
      const privateIp = `172.31.0.${octet}`;
      const mac = `02:00:00:00:00:${octet.toString(16).padStart(2, '0')}`;
      const base = instance(id, privateIp);
      networks.set(id, {
        instanceId: id,
        accountId: base.accountId,
        vpcId: base.network.vpcId,
        vpcCidr: base.network.vpcCidr,
        subnetId: base.network.subnetId,
        subnetCidr: '172.31.0.0/20',
        interfaceId: `eni-0000000000000${octet}`,
        mac,
        privateIp,
        privateDnsName: `ip-172-31-0-${octet}.ec2.internal`,
        publicIp: `${publicBase}.${octet}`,
        securityGroups: [{ id: 'sg-1', name: 'test' }],
        policy: { groupIds: ['sg-1'], ingress: [ssh22, web8080], egress: [allEgress] },
      });
      metadata.set(
        id,
        instance(id, privateIp, {
          network: { ...base.network, mac },
          publicKeys: [{ name: 'test-key', openssh: publicKey }],
          ...(userData === undefined ? {} : { userData: Buffer.from(userData) }),
        }),
      );
    };
    const idA = 'i-0000000000000a0a1';
    const idB = 'i-0000000000000b0b1';
    guest(idA, 11, SERVER_USER_DATA);
    guest(idB, 12);

    const driver: VmDriver = createQemuDriver({ stateDir: join(dir, 'data'), accelerator: 'tcg' });
    cleanups.push(() => driver.close());
    const networking = () =>
      new InstanceNetworking({
        directory: join(dir, 'net'),
        driver,
        source: { networkOf: async (id) => networks.get(id) },
        metadata: async (id) => metadata.get(id),
        secret,
        logger: silentLogger,
      });
    const secret = randomBytes(32);
    let network = networking();
    cleanups.push(() => network.close());

    const boot = async (id: string) => {
      const file = join(dir, `${id}.img`);
      await copyFile(join(dir, 'demo.img'), file);
      const { disk, process } = await serveFileWithQemuNbd(
        file,
        join(dir, `${id}.nbd`),
        `vol-${id.slice(2)}`,
        0,
      );
      cleanups.push(async () => process.kill('SIGKILL'));
      const nic = await network.prepare(id);
      assert.ok(nic !== undefined, 'the source gives the instance a NIC');
      await driver.spawn({
        instanceId: id,
        vcpus: 1,
        memoryMiB: 256,
        disks: [disk],
        instanceType: 't3.micro',
        nic,
      });
      cleanups.push(() => driver.destroy(id));
      await network.started(id);
    };
    await boot(idA);
    await boot(idB);

    const consoleMatch = async (id: string, pattern: RegExp): Promise<RegExpMatchArray> => {
      const deadline = Date.now() + BOOT_TIMEOUT_MS;
      for (;;) {
        const text = await driver.consoleOutput(id);
        const match = pattern.exec(text);
        if (match) return match;
        if (Date.now() > deadline)
          throw new Error(`${id}: console never matched ${pattern}:\n${text.slice(-3000)}`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    };
    const ssh = (id: string, command: string) =>
      run('ssh', [
        '-i',
        join(dir, 'key'),
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'BatchMode=yes',
        '-o',
        'ConnectTimeout=20',
        '-o',
        'LogLevel=ERROR',
        `root@${networks.get(id)!.publicIp}`,
        command,
      ]);

    for (const id of [idA, idB]) await consoleMatch(id, /STRATA-DEMO: ssh ready/);
    assert.equal((await consoleMatch(idA, new RegExp(`${INSTANCE_MARKER} (\\S+)`)))[1], idA);
    await consoleMatch(idA, /user data says hello/);
    assert.equal((await consoleMatch(idA, new RegExp(`${USER_DATA_MARKER}(\\d+)`)))[1], '0');

    const dmi = ['sys_vendor', 'product_name', 'product_uuid', 'product_serial'];
    const hello = await ssh(
      idA,
      `echo "hello from $(hostname)"; cd /sys/class/dmi/id && cat ${dmi.join(' ')}`,
    );
    assert.equal(hello.code, 0, `ssh works with the key IMDS served: ${hello.stderr}`);
    assert.deepEqual(
      hello.stdout.trim().split('\n'),
      ['hello from ip-172-31-0-11', 'Amazon EC2', 't3.micro', ec2SystemUuid(idA), ec2SystemUuid(idA)],
      'the DHCP host name, and the SMBIOS fields cloud-init checks for EC2',
    );

    const token = `t=$(strata-imds PUT /latest/api/token 'X-aws-ec2-metadata-token-ttl-seconds: 60\\r\\n')`;
    const v2 = await ssh(
      idA,
      `${token}; strata-imds GET /latest/meta-data/instance-id "X-aws-ec2-metadata-token: $t\\r\\n"`,
    );
    assert.equal(v2.stdout.trim(), idA, `IMDSv2 in the guest: ${v2.stderr}`);
    assert.equal(
      (await ssh(idA, 'strata-imds GET /latest/meta-data/local-ipv4')).stdout.trim(),
      '172.31.0.11',
    );
    metadata.set(idA, {
      ...metadata.get(idA)!,
      options: { ...metadata.get(idA)!.options, httpTokens: 'required' },
    });
    network.changed();
    await network.settled();
    const v1 = await ssh(idA, 'strata-imds GET /latest/meta-data/instance-id');
    assert.equal(v1.code, 1, 'IMDSv1 is refused once tokens are required');
    assert.match(v1.stderr, /401/);

    // busybox-static's wget crashes (static glibc's resolver); its nc speaks the HTTP/1.0 this needs.
    const get = (address: string, port: number) =>
      `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${address} ${port} | tail -n 1; echo .`;
    const local = await ssh(idA, get('127.0.0.1', 8080));
    assert.equal(local.stdout, 'server-8080\n.\n', `the user data's web server runs: ${local.stderr}`);
    const allowed = await ssh(idB, get('172.31.0.11', 8080));
    assert.equal(allowed.stdout, 'server-8080\n.\n', `an allowed port of the neighbour: ${allowed.stderr}`);
    const closed = await ssh(idB, get('172.31.0.11', 8081));
    assert.equal(closed.stdout, '.\n', `a port the group does not allow: ${closed.stderr}`);

    const setIngress = (ingress: PermissionRule[]) => {
      const current = networks.get(idA)!;
      networks.set(idA, { ...current, policy: { ...current.policy, ingress } });
      network.changed();
      return network.settled();
    };
    await setIngress([web8080]);
    const revoked = await ssh(idA, 'true');
    assert.notEqual(revoked.code, 0);
    assert.match(revoked.stderr, /Connection refused/, 'a revoked port 22 refuses at once');
    await setIngress([ssh22, web8080]);
    const back = await ssh(idA, 'echo back');
    assert.equal(back.stdout.trim(), 'back', `authorized again, ssh works: ${back.stderr}`);

    // A daemon restart: its switches and channels go, the VMs run on; the next daemon adopts them, and
    // QEMU, listening on the NIC sockets, takes its new connections.
    await network.close();
    network = networking();
    for (const id of [idA, idB]) await network.adopted(id);
    const adopted = await ssh(
      idA,
      `${token}; strata-imds GET /latest/meta-data/local-ipv4 "X-aws-ec2-metadata-token: $t\\r\\n"`,
    );
    assert.equal(
      adopted.stdout.trim(),
      '172.31.0.11',
      `after a restart: ssh, and IMDS in the guest: ${adopted.stderr}`,
    );
    const neighbour = await ssh(idB, get('172.31.0.11', 8080));
    assert.equal(
      neighbour.stdout,
      'server-8080\n.\n',
      `after a restart, the switch again: ${neighbour.stderr}`,
    );
    t.diagnostic(`two guests, boot to last check: ${Math.round((Date.now() - started) / 1000)} s`);
  },
);
