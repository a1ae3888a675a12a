// Two real QEMU guests on one VPC switch: DHCP hands each its private IP, 169.254.169.254 reaches the
// metadata service on the guest's own channel (IMDSv1 and a v2 token), an allowed port of the neighbour
// answers and a closed one does not, and the host reaches a guest's forwarded port on its public loopback
// address and nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpioNewc, type CpioEntry } from '../compute/image/cpio.ts';
import { findDemoImageSources } from '../compute/image/demo-image.ts';
import * as guest from '../compute/image/guest-files.ts';
import { randomBytes } from 'node:crypto';
import { createImdsHandler } from '../metadata/imds-handler.ts';
import { listenImdsChannel } from '../metadata/imds-sockets.ts';
import { SessionTokens } from '../metadata/session-tokens.ts';
import { instance } from '../metadata/testing/instance-metadata.ts';
import type { InstanceMetadata } from '../metadata/metadata.ts';
import { formatIpv4, parseIpv4, type Ipv4 } from './frames.ts';
import { connectSwitchSockets, switchSocketPaths } from './switch-sockets.ts';
import { parseCidr, type PermissionRule } from './security-filter.ts';
import { netdevArgs } from './qemu-netdev.ts';
import { VpcSwitch, type InterfaceConfig } from './vpc-switch.ts';

const BOOT_TIMEOUT_MS = 120_000;
const ip = (text: string): Ipv4 => parseIpv4(text)!;
const subnet = parseCidr('172.31.0.0/20', parseIpv4)!;

// The guest: DHCP, then either serve HTTP on 8080 and 8081, or probe the metadata relay and a neighbour.
const GUEST_INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /etc /www /tmp
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
echo "hosts: files" > /etc/nsswitch.conf; echo "127.0.0.1 localhost" > /etc/hosts
for module in ${guest.INITRD_MODULES.map((path) => path.split('/').pop()).join(' ')}; do insmod /lib/modules/$module 2>/dev/null; done
cat > /bin/dhcp-event <<'EOF'
#!/bin/sh
if [ "$1" = bound ]; then ip addr add $ip/$mask dev $interface; ip route add default via $router; echo "NET-LEASE $ip $router" >/dev/console; fi
EOF
chmod +x /bin/dhcp-event
ip link set lo up; ip link set eth0 up
udhcpc -i eth0 -q -n -t 10 -s /bin/dhcp-event >/dev/null 2>&1 || echo "NET-LEASE none"
fetch() { printf 'GET %s HTTP/1.0\\r\\n%b\\r\\n' "$3" "$4" | nc -w 5 "$1" "$2" | tail -n 1; }
if grep -q role=server /proc/cmdline; then
  echo server-8080 > /www/index.html; httpd -p 8080 -h /www
  mkdir -p /www2; echo server-8081 > /www2/index.html; httpd -p 8081 -h /www2
  echo "NET-READY"
else
  peer=$(sed 's/.*peer=\\([0-9.]*\\).*/\\1/' /proc/cmdline)
  echo "NET-METADATA $(fetch 169.254.169.254 80 /latest/meta-data/instance-id)"
  token=$(printf 'PUT /latest/api/token HTTP/1.0\\r\\nX-aws-ec2-metadata-token-ttl-seconds: 60\\r\\n\\r\\n' | nc -w 5 169.254.169.254 80 | tail -n 1)
  echo "NET-METADATA-V2 $(fetch 169.254.169.254 80 /latest/meta-data/local-ipv4 "X-aws-ec2-metadata-token: $token\\r\\n")"
  echo "NET-PEER-8080 $(fetch $peer 8080 /)"
  echo "NET-PEER-8081 $(fetch $peer 8081 / || true)."
fi
while true; do sleep 60; done
`;

const openTo8080: PermissionRule = {
  protocol: 'tcp',
  fromPort: 8080,
  toPort: 8080,
  cidrs: [subnet],
  groupIds: [],
};
const allEgress: PermissionRule = {
  protocol: 'all',
  fromPort: -1,
  toPort: -1,
  cidrs: [parseCidr('0.0.0.0/0', parseIpv4)!],
  groupIds: [],
};

async function guestInitrd(): Promise<Buffer> {
  const sources = await findDemoImageSources();
  const entries: CpioEntry[] = [
    { kind: 'dir', path: 'bin' },
    { kind: 'dir', path: 'lib' },
    { kind: 'dir', path: 'lib/modules' },
    { kind: 'file', path: 'bin/busybox', data: await readFile(sources.busyboxPath), mode: 0o755 },
    { kind: 'file', path: 'init', data: Buffer.from(GUEST_INIT), mode: 0o755 },
  ];
  for (const module of guest.INITRD_MODULES) {
    entries.push({
      kind: 'file',
      path: `lib/modules/${module.split('/').pop()}`,
      data: await readFile(join(sources.modulesDir, module)),
    });
  }
  return cpioNewc(entries);
}

interface Booted {
  readonly qemu: ChildProcess;
  readonly consolePath: string;
}

async function waitForConsole(vm: Booted, pattern: RegExp): Promise<RegExpMatchArray> {
  const deadline = Date.now() + BOOT_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const text = await readFile(vm.consolePath, 'utf8').catch(() => '');
    const match = pattern.exec(text);
    if (match) return match;
    assert.equal(vm.qemu.exitCode, null, `QEMU exited early: ${text.slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(
    `console never matched ${pattern}: ${(await readFile(vm.consolePath, 'utf8').catch(() => '')).slice(-2000)}`,
  );
}

function httpGet(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/', timeout: 10_000 }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve(body.trim()));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

test(
  'two QEMU guests on one VPC switch: DHCP, metadata, security groups and a public port',
  { timeout: 2 * BOOT_TIMEOUT_MS + 60_000 },
  async (t) => {
    const sources = await findDemoImageSources().catch((error: Error) => error);
    if (sources instanceof Error) return t.skip(`no guest kernel here: ${sources.message}`);
    const work = await mkdtemp(join(tmpdir(), 'strata-vpc-'));
    const vpc = new VpcSwitch();
    const vms: Booted[] = [];
    const closers: (() => Promise<void>)[] = [];
    t.after(async () => {
      for (const vm of vms) vm.qemu.kill('SIGKILL');
      for (const close of closers) await close();
      await rm(work, { recursive: true, force: true });
    });
    await writeFile(join(work, 'initrd'), await guestInitrd());
    const metadata = new Map<string, InstanceMetadata>();
    const imds = createImdsHandler({
      source: async (instanceId) => metadata.get(instanceId),
      tokens: new SessionTokens(randomBytes(32)),
      sign: () => 'unsigned',
    });
    const publicIp = ip('127.100.0.11');

    const boot = async (
      instanceId: string,
      privateIp: string,
      mac: string,
      append: string,
      publicPorts: number[],
    ) => {
      const config: InterfaceConfig = {
        instanceId,
        mac: mac.replaceAll(':', ''),
        privateIp: ip(privateIp),
        subnet,
        policy: { groupIds: ['sg-1'], ingress: [openTo8080], egress: [allEgress] },
        publicPorts: { tcp: new Set(publicPorts), udp: new Set() },
        metadata: { enabled: true, hopLimit: 1 },
      };
      vpc.configure(config);
      metadata.set(instanceId, instance(instanceId, privateIp));
      const paths = switchSocketPaths(work, instanceId);
      const channel = await listenImdsChannel(imds, work, instanceId);
      closers.push(() => channel.close());
      const consolePath = join(work, `${instanceId}.console`);
      const args = [
        '-nodefaults',
        '-nographic',
        '-machine',
        'q35',
        '-accel',
        'tcg',
        '-m',
        '256',
        '-kernel',
        sources.kernelPath,
        '-initrd',
        join(work, 'initrd'),
        '-append',
        `console=ttyS0 quiet ${append}`,
        '-serial',
        `file:${consolePath}`,
        '-monitor',
        'none',
        ...netdevArgs({
          mac,
          subnet,
          privateIp: ip(privateIp),
          nicSocketPath: paths.nic,
          uplinkSocketPath: paths.uplink,
          metadataCommand: `socat STDIO UNIX-CONNECT:${channel.path}`,
          hostForwards: publicPorts.map((port) => ({ protocol: 'tcp', publicIp, port })),
        }),
      ];
      const vm = { qemu: spawn('qemu-system-x86_64', args, { stdio: 'ignore' }), consolePath };
      vms.push(vm);
      // QEMU listens on the two sockets; the switch connects once they exist.
      const sockets = await connectSwitchSockets(vpc, paths, instanceId);
      closers.push(() => sockets.close());
      return vm;
    };

    const server = await boot('i-server', '172.31.0.11', '02:00:00:00:00:11', 'role=server', [8080]);
    const serverLease = await waitForConsole(server, /NET-LEASE (\S+) (\S+)/);
    assert.deepEqual(
      [serverLease[1], serverLease[2]],
      ['172.31.0.11', '172.31.0.1'],
      'DHCP gave the private IP and the router',
    );
    await waitForConsole(server, /NET-READY/);
    assert.equal(
      await httpGet(formatIpv4(publicIp), 8080),
      'server-8080',
      'the public address reaches the forwarded port',
    );
    await assert.rejects(
      httpGet(formatIpv4(publicIp), 8081),
      /ECONNREFUSED/,
      'a port that is not forwarded is closed',
    );

    const client = await boot(
      'i-client',
      '172.31.0.12',
      '02:00:00:00:00:12',
      'role=client peer=172.31.0.11',
      [],
    );
    assert.equal((await waitForConsole(client, /NET-LEASE (\S+)/))[1], '172.31.0.12');
    assert.equal(
      (await waitForConsole(client, /NET-METADATA (.*)/))[1]?.trim(),
      'i-client',
      'metadata names the asking instance',
    );
    assert.equal(
      (await waitForConsole(client, /NET-METADATA-V2 (.*)/))[1]?.trim(),
      '172.31.0.12',
      'IMDSv2: a token from PUT, then a GET with it',
    );
    assert.equal(
      (await waitForConsole(client, /NET-PEER-8080 (.*)/))[1]?.trim(),
      'server-8080',
      'an allowed port of the neighbour',
    );
    assert.equal(
      (await waitForConsole(client, /NET-PEER-8081 (.*)/))[1]?.trim(),
      '.',
      'a port the group does not allow',
    );
    assert.ok(vpc.counters.dropped > 0 && vpc.counters.forwarded > 0);
  },
);
