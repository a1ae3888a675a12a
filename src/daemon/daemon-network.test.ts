// The daemon's instance networking through the lifecycle, with the fake driver and test network and metadata
// ports (the cloud's own are wired at merge): RunInstances starts a VM with its NIC and public forwards and
// connects the switch; changed() moves the forwards; stop and terminate release everything; start prepares
// it again; a daemon restart adopts the running VM's network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import {
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { registerImage, snapshotWithData } from '../api/ec2/actions/compute-test-helpers.ts';
import { startTestDaemon } from '../api/testing/test-daemon.ts';
import { createFakeDriver, FakeHost } from '../compute/fake/fake-driver.ts';
import { instance } from '../metadata/testing/instance-metadata.ts';
import { parseIpv4 } from '../network/frames.ts';
import type { InstanceNetwork } from '../network/instance-network.ts';
import { parseCidr, type PermissionRule } from '../network/security-filter.ts';

const tcp = (port: number): PermissionRule => ({
  protocol: 'tcp',
  fromPort: port,
  toPort: port,
  cidrs: [parseCidr('0.0.0.0/0', parseIpv4)!],
  groupIds: [],
});

function imdsGet(socketPath: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

test('instances get their NIC, forwards and metadata channel through the lifecycle', async (t) => {
  const networks = new Map<string, InstanceNetwork>();
  let ingress = [tcp(22)];
  // Every instance the source is asked about gets the next address; rules are read when asked.
  const networkOf = async (instanceId: string): Promise<InstanceNetwork> => {
    const known = networks.get(instanceId) ?? {
      instanceId,
      accountId: '123456789012',
      vpcId: 'vpc-1',
      vpcCidr: '172.31.0.0/16',
      subnetId: 'subnet-1',
      subnetCidr: '172.31.0.0/20',
      interfaceId: `eni-${networks.size}`,
      mac: `02:00:00:00:01:${(16 + networks.size).toString(16)}`,
      privateIp: `172.31.0.${10 + networks.size}`,
      privateDnsName: `ip-172-31-0-${10 + networks.size}.ec2.internal`,
      publicIp: `127.100.250.${10 + networks.size}`,
      securityGroups: [{ id: 'sg-1', name: 'default' }],
      policy: { groupIds: ['sg-1'], ingress, egress: [] },
    };
    const current = { ...known, policy: { ...known.policy, ingress } };
    networks.set(instanceId, current);
    return current;
  };
  const host = new FakeHost();
  const strata = await startTestDaemon({
    vmDriver: createFakeDriver({ host }),
    networkSource: { networkOf },
    metadataSource: async (id) => (networks.has(id) ? instance(id, networks.get(id)!.privateIp) : undefined),
  });
  t.after(() => strata.close());
  const ec2 = strata.ec2();
  const settle = () => strata.cloud.compute.idle();
  const imageId = await registerImage(ec2, await snapshotWithData(strata, ec2, 'NET'));
  const run = await ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1 }));
  const id = run.Instances![0]!.InstanceId!;
  await settle();
  const imds = join(strata.dataDir, 'network', `${id}.imds.sock`);
  const vm = () => host.vms.get(id)!;
  const connected = async () => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    return vm().nicSockets.map((socket) => socket.connections.size);
  };

  assert.equal(vm().spec.nic?.privateIp, '172.31.0.10');
  assert.equal(vm().spec.nic?.hostname, 'ip-172-31-0-10');
  assert.equal(vm().spec.instanceType, run.Instances![0]!.InstanceType);
  assert.deepEqual(vm().forwards, [{ protocol: 'tcp', hostIp: '127.100.250.10', port: 22 }]);
  assert.deepEqual(await connected(), [1, 1], 'the switch is connected to the VM');
  assert.equal(await imdsGet(imds, '/latest/meta-data/instance-id'), id);

  ingress = [tcp(22), tcp(80)];
  strata.network!.changed();
  await strata.network!.settled();
  assert.deepEqual(
    vm().forwards.map((f) => f.port),
    [22, 80],
    'a rule change reaches the running VM',
  );

  await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
  await settle();
  assert.equal(vm().running, false);
  assert.ok(!existsSync(imds), 'a stopped instance has no metadata channel');
  await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
  await settle();
  assert.equal(vm().spec.nic?.privateIp, '172.31.0.10', 'the private IP survives stop and start');
  assert.deepEqual(await connected(), [1, 1]);

  await strata.restart();
  await settle();
  assert.deepEqual(await connected(), [1, 1], 'a restarted daemon connects to the adopted VM again');
  assert.equal(await imdsGet(imds, '/latest/meta-data/instance-id'), id);

  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  await settle();
  assert.ok(!existsSync(imds), 'terminate releases the metadata channel');
  assert.ok(!existsSync(join(strata.dataDir, 'network', `${id}.nic.sock`)), 'and the switch sockets');
});
