import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/prng.ts';
import { formatIpv4, parseIpv4, parseMac, rewriteIpv4Address, viewFrame, type Ipv4 } from './frames.ts';
import { FlowTable, parseCidr, type PermissionRule } from './security-filter.ts';
import { METADATA_ADDRESS, slirpMac, VpcSwitch, type FramePort, type InterfaceConfig } from './vpc-switch.ts';
import { arpRequest, checksumsValid, ipv4Frame } from './testing/packets.ts';

const ip = (text: string): Ipv4 => parseIpv4(text)!;
const cidr = (text: string) => parseCidr(text, parseIpv4)!;
const mac = (text: string) => parseMac(text)!;

class Recorder implements FramePort {
  readonly frames: Buffer[] = [];
  send(frame: Buffer): void {
    this.frames.push(Buffer.from(frame));
  }
  take(): Buffer[] {
    return this.frames.splice(0);
  }
}

const allowAllEgress: PermissionRule = {
  protocol: 'all',
  fromPort: -1,
  toPort: -1,
  cidrs: [cidr('0.0.0.0/0')],
  groupIds: [],
};
const sshFromGroup: PermissionRule = {
  protocol: 'tcp',
  fromPort: 22,
  toPort: 22,
  cidrs: [],
  groupIds: ['sg-a'],
};
const httpFromVpc: PermissionRule = {
  protocol: 'tcp',
  fromPort: 80,
  toPort: 80,
  cidrs: [cidr('172.31.0.0/16')],
  groupIds: [],
};

function nic(
  instanceId: string,
  macText: string,
  address: string,
  subnet: string,
  ingress: PermissionRule[],
): InterfaceConfig {
  return {
    instanceId,
    mac: mac(macText),
    privateIp: ip(address),
    subnet: cidr(subnet),
    policy: { groupIds: ['sg-a'], ingress, egress: [allowAllEgress] },
    publicPorts: { tcp: new Set([22]), udp: new Set() },
    metadata: { enabled: true, hopLimit: 1 },
  };
}

/** A switch with A and B in 172.31.0.0/20 and C in 172.31.16.0/20, every port recorded. */
function threeInstances() {
  const vpc = new VpcSwitch();
  const configs = {
    a: nic('i-a', '02:00:00:00:00:0a', '172.31.0.10', '172.31.0.0/20', [sshFromGroup]),
    b: nic('i-b', '02:00:00:00:00:0b', '172.31.0.11', '172.31.0.0/20', [sshFromGroup]),
    c: nic('i-c', '02:00:00:00:00:0c', '172.31.16.12', '172.31.16.0/20', [httpFromVpc]),
  };
  const ports: Record<string, { nic: Recorder; uplink: Recorder }> = {};
  for (const [name, config] of Object.entries(configs)) {
    vpc.configure(config);
    ports[name] = { nic: new Recorder(), uplink: new Recorder() };
    vpc.connect(config.instanceId, 'nic', ports[name].nic);
    vpc.connect(config.instanceId, 'uplink', ports[name].uplink);
  }
  return { vpc, configs, ports: ports as Record<'a' | 'b' | 'c', { nic: Recorder; uplink: Recorder }> };
}

test('addresses, MACs and CIDRs parse strictly and print back', () => {
  assert.equal(formatIpv4(ip('172.31.0.10')), '172.31.0.10');
  for (const bad of ['1.2.3', '1.2.3.256', '01.2.3.4', '1.2.3.4.5', 'a.b.c.d', ''])
    assert.equal(parseIpv4(bad), undefined, bad);
  assert.equal(mac('52:54:00:AB:cd:01'), '525400abcd01');
  assert.equal(parseMac('52:54:00:ab:cd'), undefined);
  assert.deepEqual(cidr('172.31.16.0/20'), { network: ip('172.31.16.0'), prefixLength: 20 });
  for (const bad of ['172.31.16.1/20', '10.0.0.0/33', '10.0.0.0', '10.0.0.0/8/1', '10.0.0.0/x']) {
    assert.equal(parseCidr(bad, parseIpv4), undefined, bad);
  }
});

test('address rewrites keep the IP, TCP and UDP checksums valid (seeded)', () => {
  const seed = 20261202;
  const random = seededRandom(seed);
  const anyIp = () => Math.floor(random() * 2 ** 32) >>> 0;
  for (let i = 0; i < 500; i += 1) {
    const protocol = random() < 0.5 ? 'tcp' : 'udp';
    const payload = Buffer.alloc(Math.floor(random() * 100), Math.floor(random() * 256));
    const frame = ipv4Frame({
      sourceMac: '020000000001',
      destinationMac: '020000000002',
      source: anyIp(),
      destination: anyIp(),
      protocol,
      sourcePort: Math.floor(random() * 65536),
      destinationPort: 80,
      payload,
    });
    assert.ok(checksumsValid(frame), `seed ${seed} case ${i}: builder`);
    const to = anyIp();
    const field = random() < 0.5 ? 'source' : 'destination';
    rewriteIpv4Address(frame, viewFrame(frame)!.ipv4!, field, to);
    assert.equal(viewFrame(frame)!.ipv4![field], to);
    assert.ok(checksumsValid(frame), `seed ${seed} case ${i}: ${protocol} ${field} rewrite`);
  }
});

test("same subnet: a new connection needs both ends' groups, replies pass as tracked", () => {
  const { vpc, configs, ports } = threeInstances();
  const aToB = {
    sourceMac: configs.a.mac,
    destinationMac: configs.b.mac,
    source: configs.a.privateIp,
    destination: configs.b.privateIp,
  };
  vpc.receive('i-a', 'nic', ipv4Frame({ ...aToB, protocol: 'tcp', sourcePort: 50000, destinationPort: 22 }));
  const [delivered] = ports.b.nic.take();
  assert.ok(delivered, 'SSH from a group member reaches B');
  assert.equal(viewFrame(delivered)!.destinationMac, configs.b.mac);
  vpc.receive('i-a', 'nic', ipv4Frame({ ...aToB, protocol: 'tcp', sourcePort: 50001, destinationPort: 23 }));
  assert.equal(ports.b.nic.take().length, 0, 'port 23 is not allowed');
  const bToA = {
    sourceMac: configs.b.mac,
    destinationMac: configs.a.mac,
    source: configs.b.privateIp,
    destination: configs.a.privateIp,
    sourcePort: 22,
    destinationPort: 50000,
  };
  vpc.receive('i-b', 'nic', ipv4Frame({ ...bToA, protocol: 'tcp', tcpFlags: 0x12 }));
  assert.equal(ports.a.nic.take().length, 1, 'the reply of the tracked connection reaches A');
  vpc.receive('i-b', 'nic', ipv4Frame({ ...bToA, protocol: 'udp' }));
  assert.equal(ports.a.nic.take().length, 0, 'UDP is another connection, and A allows none');
});

test('between subnets: routed with the router as source MAC and one hop less; CIDR rules apply', () => {
  const { vpc, configs, ports } = threeInstances();
  const routerMac = slirpMac(ip('172.31.0.1'));
  const aToC = {
    sourceMac: configs.a.mac,
    destinationMac: routerMac,
    source: configs.a.privateIp,
    destination: configs.c.privateIp,
    ttl: 64,
  };
  vpc.receive('i-a', 'nic', ipv4Frame({ ...aToC, protocol: 'tcp', destinationPort: 80 }));
  const [routed] = ports.c.nic.take();
  assert.ok(routed);
  const view = viewFrame(routed)!;
  assert.equal(view.destinationMac, configs.c.mac);
  assert.equal(view.sourceMac, slirpMac(ip('172.31.16.1')));
  assert.equal(view.ipv4!.ttl, 63);
  assert.ok(checksumsValid(routed));
  vpc.receive('i-a', 'nic', ipv4Frame({ ...aToC, protocol: 'tcp', destinationPort: 22 }));
  assert.equal(ports.c.nic.take().length, 0, 'C allows only port 80');
  vpc.receive('i-a', 'nic', ipv4Frame({ ...aToC, protocol: 'tcp', destinationPort: 80, ttl: 1 }));
  assert.equal(ports.c.nic.take().length, 0, 'a packet with no hops left is not routed');
});

test('ARP: VPC neighbours are answered by the switch, the router by the uplink, strangers not at all', () => {
  const { vpc, configs, ports } = threeInstances();
  vpc.receive('i-a', 'nic', arpRequest(configs.a.mac, configs.a.privateIp, configs.b.privateIp));
  const [reply] = ports.a.nic.take();
  assert.ok(reply);
  assert.equal(reply.toString('hex', 22, 28), configs.b.mac, 'B is at its MAC');
  vpc.receive('i-a', 'nic', arpRequest(configs.a.mac, configs.a.privateIp, ip('172.31.0.1')));
  assert.equal(ports.a.uplink.take().length, 1, 'the router is asked on the uplink');
  vpc.receive('i-a', 'nic', arpRequest(configs.a.mac, configs.a.privateIp, ip('172.31.0.99')));
  vpc.receive('i-a', 'nic', arpRequest(configs.a.mac, configs.a.privateIp, configs.c.privateIp));
  vpc.receive('i-a', 'nic', arpRequest(configs.a.mac, configs.b.privateIp, ip('172.31.0.1')));
  assert.equal(ports.a.nic.take().length + ports.a.uplink.take().length + ports.b.nic.take().length, 0);
});

test("metadata: 169.254.169.254:80 goes to the subnet's .3 and answers come back from it with the hop limit", () => {
  const { vpc, configs, ports } = threeInstances();
  const routerMac = slirpMac(ip('172.31.0.1'));
  const request = {
    sourceMac: configs.a.mac,
    destinationMac: routerMac,
    source: configs.a.privateIp,
    destination: METADATA_ADDRESS,
    protocol: 'tcp' as const,
    sourcePort: 41000,
  };
  vpc.receive('i-a', 'nic', ipv4Frame({ ...request, destinationPort: 80 }));
  const [relayed] = ports.a.uplink.take();
  assert.ok(relayed);
  assert.equal(formatIpv4(viewFrame(relayed)!.ipv4!.destination), '172.31.0.3');
  assert.ok(checksumsValid(relayed));
  vpc.receive(
    'i-a',
    'uplink',
    ipv4Frame({
      sourceMac: routerMac,
      destinationMac: configs.a.mac,
      source: ip('172.31.0.3'),
      destination: configs.a.privateIp,
      protocol: 'tcp',
      sourcePort: 80,
      destinationPort: 41000,
      ttl: 64,
      tcpFlags: 0x12,
    }),
  );
  const [answer] = ports.a.nic.take();
  assert.ok(answer);
  assert.equal(viewFrame(answer)!.ipv4!.source, METADATA_ADDRESS);
  assert.equal(viewFrame(answer)!.ipv4!.ttl, 1);
  assert.ok(checksumsValid(answer));
  vpc.receive('i-a', 'nic', ipv4Frame({ ...request, destinationPort: 81 }));
  vpc.configure({ ...configs.a, metadata: { enabled: false, hopLimit: 1 } });
  vpc.receive('i-a', 'nic', ipv4Frame({ ...request, destinationPort: 80 }));
  assert.equal(ports.a.uplink.take().length, 0, 'other ports, and a disabled endpoint, go nowhere');
});

test('the uplink carries only DHCP, forwarded ports and their replies: no host, no outside', () => {
  const { vpc, configs, ports } = threeInstances();
  const router = ip('172.31.0.1');
  const routerMac = slirpMac(router);
  const fromA = { sourceMac: configs.a.mac, destinationMac: routerMac, source: configs.a.privateIp };
  vpc.receive(
    'i-a',
    'nic',
    ipv4Frame({ ...fromA, destination: router, protocol: 'tcp', sourcePort: 22, destinationPort: 60000 }),
  );
  assert.equal(ports.a.uplink.take().length, 1, 'the reply of a forwarded SSH connection');
  vpc.receive(
    'i-a',
    'nic',
    ipv4Frame({ ...fromA, destination: router, protocol: 'tcp', sourcePort: 40000, destinationPort: 8773 }),
  );
  vpc.receive(
    'i-a',
    'nic',
    ipv4Frame({ ...fromA, destination: ip('192.168.1.1'), protocol: 'tcp', destinationPort: 80 }),
  );
  vpc.receive(
    'i-a',
    'nic',
    ipv4Frame({
      ...fromA,
      destination: ip('172.31.0.2'),
      protocol: 'udp',
      sourcePort: 5353,
      destinationPort: 53,
    }),
  );
  assert.equal(ports.a.uplink.take().length, 0, "the host's own ports, the outside and DNS are closed");
  vpc.receive(
    'i-a',
    'nic',
    ipv4Frame({
      ...fromA,
      source: 0,
      destination: 0xffffffff,
      protocol: 'udp',
      sourcePort: 68,
      destinationPort: 67,
    }),
  );
  assert.equal(ports.a.uplink.take().length, 1, 'DHCP');
  const toA = {
    sourceMac: routerMac,
    destinationMac: configs.a.mac,
    source: router,
    destination: configs.a.privateIp,
    protocol: 'tcp' as const,
  };
  vpc.receive('i-a', 'uplink', ipv4Frame({ ...toA, sourcePort: 60000, destinationPort: 22 }));
  assert.equal(ports.a.nic.take().length, 1, 'a forwarded connection to port 22');
  vpc.receive('i-a', 'uplink', ipv4Frame({ ...toA, sourcePort: 60000, destinationPort: 23 }));
  assert.equal(ports.a.nic.take().length, 0, 'port 23 is not forwarded');
  vpc.configure({ ...configs.a, publicPorts: { tcp: new Set(), udp: new Set() } });
  vpc.receive('i-a', 'uplink', ipv4Frame({ ...toA, sourcePort: 60001, destinationPort: 22 }));
  assert.equal(ports.a.nic.take().length, 0, 'a revoked port closes at once');
});

test("a guest cannot speak with another's MAC or address, and another VPC is unreachable", () => {
  const { vpc, configs, ports } = threeInstances();
  const spoofs = [
    { sourceMac: configs.b.mac, source: configs.a.privateIp },
    { sourceMac: configs.a.mac, source: configs.b.privateIp },
  ];
  for (const spoof of spoofs) {
    vpc.receive(
      'i-a',
      'nic',
      ipv4Frame({
        ...spoof,
        destinationMac: configs.c.mac,
        destination: configs.c.privateIp,
        protocol: 'tcp',
        destinationPort: 80,
      }),
    );
  }
  assert.equal(ports.c.nic.take().length, 0);
  const other = new VpcSwitch();
  const d = nic('i-d', '02:00:00:00:00:0d', '172.31.0.20', '172.31.0.0/20', [httpFromVpc]);
  const dNic = new Recorder();
  other.configure(d);
  other.connect('i-d', 'nic', dNic);
  vpc.receive(
    'i-a',
    'nic',
    ipv4Frame({
      sourceMac: configs.a.mac,
      destinationMac: d.mac,
      source: configs.a.privateIp,
      destination: d.privateIp,
      protocol: 'tcp',
      destinationPort: 80,
    }),
  );
  assert.equal(dNic.take().length + ports.a.uplink.take().length, 0, 'no path to another VPC');
  vpc.receive('i-a', 'nic', Buffer.alloc(10));
  assert.ok(vpc.counters.dropped >= 4 && vpc.counters.forwarded === 0);
});

test('the flow table is bounded and forgets idle connections', () => {
  let nowMs = 0;
  const flows = new FlowTable(() => nowMs, 2);
  const packet = (sourcePort: number) =>
    viewFrame(
      ipv4Frame({
        sourceMac: '020000000001',
        destinationMac: '020000000002',
        source: ip('172.31.0.10'),
        destination: ip('172.31.0.11'),
        protocol: 'tcp',
        sourcePort,
        destinationPort: 22,
      }),
    )!.ipv4!;
  flows.track(packet(1));
  flows.track(packet(2));
  flows.track(packet(3));
  assert.equal(flows.size, 2);
  assert.equal(flows.admitsTracked(packet(1)), false, 'the oldest went first');
  assert.equal(flows.admitsTracked(packet(3)), true);
  nowMs += 10 * 60 * 1000;
  assert.equal(flows.admitsTracked(packet(3)), false, 'idle past the limit');
});
