// Instance networking composed over the fake driver, without QEMU: prepare gives a NIC and opens the
// instance's metadata channel; started connects the switch to the sockets the "VM" listens on; changed()
// moves public forwards on the running VM; a restarted daemon adopts it; release takes it all down; an
// instance without a network gets none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { silentLogger } from '../base/log.ts';
import { createFakeDriver, FakeHost } from '../compute/fake/fake-driver.ts';
import { instance } from '../metadata/testing/instance-metadata.ts';
import { parseIpv4 } from '../network/frames.ts';
import type { InstanceNetwork } from '../network/instance-network.ts';
import { parseCidr, type PermissionRule } from '../network/security-filter.ts';
import { InstanceNetworking } from './instance-networking.ts';

const anywhere = parseCidr('0.0.0.0/0', parseIpv4)!;
const tcp = (port: number): PermissionRule => ({
  protocol: 'tcp',
  fromPort: port,
  toPort: port,
  cidrs: [anywhere],
  groupIds: [],
});

function imdsGet(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET' }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('prepare, started, changed and release over the fake driver', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-netfake-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const id = 'i-0000000000000c0c1';
  let network: InstanceNetwork = {
    instanceId: id,
    accountId: '123456789012',
    vpcId: 'vpc-1',
    vpcCidr: '172.31.0.0/16',
    subnetId: 'subnet-1',
    subnetCidr: '172.31.16.0/20',
    interfaceId: 'eni-1',
    mac: '02:00:00:00:0c:01',
    privateIp: '172.31.16.5',
    privateDnsName: 'ip-172-31-16-5.ec2.internal',
    publicIp: '127.100.3.5',
    securityGroups: [{ id: 'sg-1', name: 'default' }],
    policy: { groupIds: ['sg-1'], ingress: [tcp(22)], egress: [] },
  };
  const host = new FakeHost();
  const driver = createFakeDriver({ host });
  const compose = () =>
    new InstanceNetworking({
      directory: join(dir, 'net'),
      driver,
      source: { networkOf: async (instanceId) => (instanceId === id ? network : undefined) },
      metadata: async (instanceId) => (instanceId === id ? instance(id, '172.31.16.5') : undefined),
      secret,
      logger: silentLogger,
    });
  const secret = randomBytes(32);
  let networking = compose();
  t.after(() => networking.close());

  assert.equal(await networking.prepare('i-0000000000000dead'), undefined, 'no network, no NIC');
  const nic = await networking.prepare(id);
  assert.ok(nic !== undefined);
  assert.equal(nic.hostname, 'ip-172-31-16-5');
  assert.deepEqual(nic.hostForwards, [{ protocol: 'tcp', hostIp: '127.100.3.5', port: 22 }]);
  const imdsPath = nic.metadataCommand.split('UNIX-CONNECT:')[1]!;
  const answer = await imdsGet(imdsPath, '/latest/meta-data/instance-id');
  assert.deepEqual(answer, { status: 200, body: id }, 'the channel answers for this instance');

  await writeFile(join(dir, 'root.img'), Buffer.alloc(512));
  await driver.spawn({
    instanceId: id,
    vcpus: 1,
    memoryMiB: 256,
    disks: [{ serial: 'vol-1', file: join(dir, 'root.img'), bootIndex: 0 }],
    nic,
  });
  await networking.started(id);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const connections = host.vms.get(id)!.nicSockets.map((socket) => socket.connections.size);
  assert.deepEqual(connections, [1, 1], 'the switch is connected to both of the VM NIC sockets');

  network = { ...network, policy: { ...network.policy, ingress: [tcp(22), tcp(443)] } };
  networking.changed();
  await networking.settled();
  assert.deepEqual(host.vms.get(id)!.forwards, [
    { protocol: 'tcp', hostIp: '127.100.3.5', port: 22 },
    { protocol: 'tcp', hostIp: '127.100.3.5', port: 443 },
  ]);
  const { publicIp: _dropped, ...withoutAddress } = network;
  network = withoutAddress;
  networking.changed();
  await networking.settled();
  assert.deepEqual(host.vms.get(id)!.forwards, [], 'no public address, no forwards');

  // A daemon restart: the next daemon's networking adopts the running VM and connects again.
  await networking.close();
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(
    host.vms.get(id)!.nicSockets.map((socket) => socket.connections.size),
    [0, 0],
  );
  network = { ...network, publicIp: '127.100.3.6' };
  networking = compose();
  await networking.adopted(id);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(
    host.vms.get(id)!.nicSockets.map((socket) => socket.connections.size),
    [1, 1],
  );
  assert.deepEqual(
    host.vms.get(id)!.forwards,
    [
      { protocol: 'tcp', hostIp: '127.100.3.6', port: 22 },
      { protocol: 'tcp', hostIp: '127.100.3.6', port: 443 },
    ],
    'adopt brings the forwards up to date',
  );
  assert.deepEqual(
    await imdsGet(imdsPath, '/latest/meta-data/instance-id'),
    { status: 200, body: id },
    'the metadata channel listens again at its path',
  );

  await driver.destroy(id);
  await networking.release(id);
  assert.deepEqual(await readdir(join(dir, 'net')), [], 'release leaves no socket behind');
  await assert.rejects(imdsGet(imdsPath, '/latest/meta-data/instance-id'));
});
