// The instance metadata service fed by cloud/: from SDK RunInstances (KeyName, UserData, MetadataOptions,
// tags, block devices) to what each instance's IMDS channel answers, IMDSv1 and v2, tokens required or
// optional, endpoint disabled, tags on and off, isolation between instances; ModifyInstanceMetadataOptions
// and DescribeInstances MetadataOptions; user data changed while stopped, seen at the next start. The
// network part comes from a small fake InstanceNetworkSource, as the VPC model is built elsewhere.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateKeyPairCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  ModifyInstanceAttributeCommand,
  ModifyInstanceMetadataOptionsCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type Instance,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import { startTestDaemon, type TestDaemon } from '../../testing/test-daemon.ts';
import { instanceMetadataSource } from '../../../cloud/instances/instance-metadata.ts';
import { InstanceRecords } from '../../../cloud/instances/instance-records.ts';
import { modifyMetadataOptions } from '../../../cloud/instances/launch-access.ts';
import { noDryRun } from '../../../cloud/common/dry-run.ts';
import { createImdsHandler } from '../../../metadata/imds-handler.ts';
import { listenImdsChannel, type ImdsChannel } from '../../../metadata/imds-sockets.ts';
import { SessionTokens } from '../../../metadata/session-tokens.ts';
import type { InstanceNetwork } from '../../../network/instance-network.ts';
import { expectEc2Error } from './ebs-test-helpers.ts';
import { registerImage, snapshotWithData } from './compute-test-helpers.ts';

let strata: TestDaemon;
let ec2: EC2Client;
let imageId: string;
let directory: string;
let handler: ReturnType<typeof createImdsHandler>;
const channels: ImdsChannel[] = [];
const networks = new Map<string, InstanceNetwork>();
const signer = generateKeyPairSync('ed25519');

before(async () => {
  strata = await startTestDaemon();
  ec2 = strata.ec2();
  imageId = await registerImage(ec2, await snapshotWithData(strata, ec2, 'IMDS'));
  directory = await mkdtemp(join(tmpdir(), 'strata-imds-api-'));
  handler = createImdsHandler({
    source: instanceMetadataSource({
      db: strata.cloud.db,
      regions: strata.cloud.regions,
      tags: strata.cloud.ebs.tags,
      networks: { networkOf: async (id) => networks.get(id) },
    }),
    tokens: new SessionTokens(randomBytes(32)),
    sign: (document) => sign(null, Buffer.from(document), signer.privateKey).toString('base64'),
  });
});
after(async () => {
  for (const channel of channels) await channel.close();
  await strata.close();
  await rm(directory, { recursive: true, force: true });
});

function fakeNetwork(instanceId: string, accountId: string, host: number): InstanceNetwork {
  const privateIp = `172.31.0.${host}`;
  return {
    instanceId,
    accountId,
    vpcId: 'vpc-0123456789abcdef0',
    vpcCidr: '172.31.0.0/16',
    subnetId: 'subnet-0123456789abcdef0',
    subnetCidr: '172.31.0.0/20',
    interfaceId: `eni-0000000000000${String(host).padStart(4, '0')}`,
    mac: `02:00:00:00:00:${host.toString(16).padStart(2, '0')}`,
    privateIp,
    privateDnsName: `ip-${privateIp.replaceAll('.', '-')}.ec2.internal`,
    securityGroups: [{ id: 'sg-0123456789abcdef0', name: 'default' }],
    policy: { groupIds: ['sg-0123456789abcdef0'], ingress: [], egress: [] },
  };
}

let hosts = 10;

/** Launches one instance, gives it a fake network, and opens its IMDS channel. */
async function launch(
  input: Partial<RunInstancesCommandInput> = {},
): Promise<{ instance: Instance; path: string }> {
  const out = await ec2.send(
    new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, ...input }),
  );
  const instance = out.Instances![0]!;
  networks.set(instance.InstanceId!, fakeNetwork(instance.InstanceId!, out.OwnerId!, hosts++));
  await strata.cloud.compute.idle();
  const channel = await listenImdsChannel(handler, directory, instance.InstanceId!);
  channels.push(channel);
  return { instance, path: channel.path };
}

interface Reply {
  readonly status: number;
  readonly body: Buffer;
}

function call(
  socketPath: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function get(socketPath: string, path: string, token?: string): Promise<string> {
  const reply = await call(
    socketPath,
    'GET',
    path,
    token === undefined ? {} : { 'x-aws-ec2-metadata-token': token },
  );
  assert.equal(reply.status, 200, `${path}: ${reply.body.toString()}`);
  return reply.body.toString();
}

async function token(socketPath: string): Promise<string> {
  const reply = await call(socketPath, 'PUT', '/latest/api/token', {
    'x-aws-ec2-metadata-token-ttl-seconds': '60',
  });
  assert.equal(reply.status, 200);
  return reply.body.toString();
}

async function describe(instanceId: string): Promise<Instance> {
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  return out.Reservations![0]!.Instances![0]!;
}

test('RunInstances to IMDS: every category from the launch, v1 and v2, tags on', async () => {
  await ec2.send(new CreateKeyPairCommand({ KeyName: 'imds-key', KeyType: 'ed25519' }));
  const userData = Buffer.from([0x23, 0x21, 0x00, 0xff, 0x0a, 0x41]);
  const { instance, path } = await launch({
    KeyName: 'imds-key',
    UserData: userData.toString('base64'),
    MetadataOptions: { InstanceMetadataTags: 'enabled', HttpPutResponseHopLimit: 3 },
    TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'web' }] }],
    BlockDeviceMappings: [
      { DeviceName: '/dev/sdf', Ebs: { VolumeSize: 1 } },
      { DeviceName: '/dev/sdb', VirtualName: 'ephemeral0' },
    ],
  });
  assert.equal(instance.MetadataOptions?.State, 'pending');
  assert.equal(instance.MetadataOptions?.HttpPutResponseHopLimit, 3);
  const described = await describe(instance.InstanceId!);
  assert.deepEqual(described.MetadataOptions, {
    State: 'applied',
    HttpTokens: 'optional',
    HttpPutResponseHopLimit: 3,
    HttpEndpoint: 'enabled',
    HttpProtocolIpv6: 'disabled',
    InstanceMetadataTags: 'enabled',
  });
  const network = networks.get(instance.InstanceId!)!;
  const expected: Record<string, string> = {
    'instance-id': instance.InstanceId!,
    'ami-id': imageId,
    'instance-type': described.InstanceType!,
    'local-ipv4': network.privateIp,
    'local-hostname': network.privateDnsName,
    hostname: network.privateDnsName,
    mac: network.mac,
    'public-ipv4': described.PublicIpAddress!,
    'public-hostname': described.PublicDnsName!,
    'placement/availability-zone': described.Placement!.AvailabilityZone!,
    'placement/region': strata.region,
    'security-groups': 'default',
    'reservation-id': (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instance.InstanceId!] })))
      .Reservations![0]!.ReservationId!,
    [`network/interfaces/macs/${network.mac}/subnet-id`]: network.subnetId,
    [`network/interfaces/macs/${network.mac}/public-ipv4s`]: described.PublicIpAddress!,
    'block-device-mapping/ami': '/dev/xvda',
    'block-device-mapping/root': '/dev/xvda',
    'block-device-mapping/ebs2': 'sdf',
    'block-device-mapping/ephemeral0': 'sdb',
    'tags/instance/Name': 'web',
    'public-keys/': '0=imds-key',
  };
  const v2 = await token(path);
  for (const [category, value] of Object.entries(expected)) {
    assert.equal(await get(path, `/latest/meta-data/${category}`), value, `v1 ${category}`);
    assert.equal(await get(path, `/latest/meta-data/${category}`, v2), value, `v2 ${category}`);
  }
  const { KeyPairs } = await ec2.send(
    new DescribeKeyPairsCommand({ KeyNames: ['imds-key'], IncludePublicKey: true }),
  );
  assert.equal(
    await get(path, '/latest/meta-data/public-keys/0/openssh-key'),
    `${KeyPairs![0]!.PublicKey}\n`,
  );
  const raw = await call(path, 'GET', '/latest/user-data');
  assert.deepEqual(raw.body, userData, 'user data is served raw');
  const document = await get(path, '/latest/dynamic/instance-identity/document');
  const identity = JSON.parse(document) as Record<string, unknown>;
  assert.equal(identity.instanceId, instance.InstanceId);
  assert.equal(identity.accountId, strata.admin.accountId);
  assert.equal(identity.privateIp, network.privateIp);
  assert.equal(identity.pendingTime, described.LaunchTime!.toISOString().replace(/\.\d{3}Z$/, 'Z'));
  const signature = await get(path, '/latest/dynamic/instance-identity/signature');
  assert.ok(verify(null, Buffer.from(document), signer.publicKey, Buffer.from(signature, 'base64')));
});

test('ModifyInstanceMetadataOptions: tokens required refuses IMDSv1, endpoint disabled refuses all, tags off', async () => {
  const { instance, path } = await launch({
    TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'api' }] }],
  });
  const instanceId = instance.InstanceId!;
  assert.equal((await call(path, 'GET', '/latest/meta-data/tags/instance/Name')).status, 404);
  assert.ok(
    !(await get(path, '/latest/meta-data/')).split('\n').includes('tags/'),
    'tags are off by default',
  );
  const modified = await ec2.send(
    new ModifyInstanceMetadataOptionsCommand({ InstanceId: instanceId, HttpTokens: 'required' }),
  );
  assert.equal(modified.InstanceId, instanceId);
  assert.equal(modified.InstanceMetadataOptions?.State, 'pending');
  assert.equal(modified.InstanceMetadataOptions?.HttpTokens, 'required');
  assert.equal((await call(path, 'GET', '/latest/meta-data/instance-id')).status, 401);
  assert.equal(await get(path, '/latest/meta-data/instance-id', await token(path)), instanceId);
  const described = await describe(instanceId);
  assert.equal(described.MetadataOptions?.HttpTokens, 'required');
  assert.equal(described.MetadataOptions?.State, 'applied');
  const filtered = await ec2.send(
    new DescribeInstancesCommand({
      Filters: [{ Name: 'metadata-options.http-tokens', Values: ['required'] }],
    }),
  );
  assert.deepEqual(
    filtered.Reservations?.flatMap((r) => r.Instances!.map((i) => i.InstanceId)),
    [instanceId],
  );

  await ec2.send(
    new ModifyInstanceMetadataOptionsCommand({ InstanceId: instanceId, InstanceMetadataTags: 'enabled' }),
  );
  assert.equal(await get(path, '/latest/meta-data/tags/instance/Name', await token(path)), 'api');
  await ec2.send(
    new ModifyInstanceMetadataOptionsCommand({ InstanceId: instanceId, HttpEndpoint: 'disabled' }),
  );
  assert.equal((await call(path, 'GET', '/latest/meta-data/instance-id')).status, 403);
  assert.equal(
    (await call(path, 'PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '60' })).status,
    403,
  );
  const options = (await describe(instanceId)).MetadataOptions;
  assert.equal(options?.HttpEndpoint, 'disabled');
  assert.equal(options?.HttpTokens, 'required', 'fields not given keep their value');

  for (const input of [
    { InstanceId: instanceId, HttpPutResponseHopLimit: 65 },
    { InstanceId: instanceId, HttpPutResponseHopLimit: 0 },
    { InstanceId: instanceId, HttpTokens: 'sometimes' as 'required' },
    { InstanceId: instanceId, HttpProtocolIpv6: 'enabled' as const },
  ]) {
    await expectEc2Error(ec2.send(new ModifyInstanceMetadataOptionsCommand(input)), 'InvalidParameterValue');
  }
  await expectEc2Error(
    ec2.send(
      new ModifyInstanceMetadataOptionsCommand({ InstanceId: 'i-0123456789abcdef0', HttpTokens: 'required' }),
    ),
    'InvalidInstanceID.NotFound',
  );
  await expectEc2Error(
    ec2.send(
      new ModifyInstanceMetadataOptionsCommand({
        InstanceId: instanceId,
        HttpTokens: 'optional',
        DryRun: true,
      }),
    ),
    'DryRunOperation',
  );
  await expectEc2Error(
    ec2.send(
      new RunInstancesCommand({
        ImageId: imageId,
        MinCount: 1,
        MaxCount: 1,
        MetadataOptions: { HttpEndpoint: 'off' as 'enabled' },
      }),
    ),
    'InvalidParameterValue',
  );
  const bob = strata.ec2(await strata.createAccount('bob-imds'));
  await expectEc2Error(
    bob.send(new ModifyInstanceMetadataOptionsCommand({ InstanceId: instanceId, HttpEndpoint: 'enabled' })),
    'InvalidInstanceID.NotFound',
  );
});

test('isolation: each channel answers its own instance; a token of one is refused on another; gone is 404', async () => {
  const a = await launch({ UserData: Buffer.from('echo a').toString('base64') });
  const b = await launch();
  assert.equal(await get(a.path, '/latest/meta-data/instance-id'), a.instance.InstanceId);
  assert.equal(await get(b.path, '/latest/meta-data/instance-id'), b.instance.InstanceId);
  assert.equal(await get(a.path, '/latest/user-data'), 'echo a');
  assert.equal(
    (await call(b.path, 'GET', '/latest/user-data')).status,
    404,
    "B has no user data, and never A's",
  );
  assert.notEqual(
    await get(a.path, '/latest/meta-data/local-ipv4'),
    await get(b.path, '/latest/meta-data/local-ipv4'),
  );
  const tokenOfA = await token(a.path);
  assert.equal(
    (await call(b.path, 'GET', '/latest/meta-data/instance-id', { 'x-aws-ec2-metadata-token': tokenOfA }))
      .status,
    401,
  );
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [b.instance.InstanceId!] }));
  await strata.cloud.compute.idle();
  assert.equal((await call(b.path, 'GET', '/latest/meta-data/instance-id')).status, 404);
});

test('user data: ModifyInstanceAttribute only while stopped, shown by DescribeInstanceAttribute, served after the next start', async () => {
  const { instance, path } = await launch({ UserData: Buffer.from('first').toString('base64') });
  const instanceId = instance.InstanceId!;
  const second = Buffer.from('second').toString('base64');
  await expectEc2Error(
    ec2.send(
      new ModifyInstanceAttributeCommand({
        InstanceId: instanceId,
        UserData: { Value: Buffer.from('second') },
      }),
    ),
    'IncorrectInstanceState',
  );
  await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
  await strata.cloud.compute.idle();
  await ec2.send(
    new ModifyInstanceAttributeCommand({
      InstanceId: instanceId,
      UserData: { Value: Buffer.from('second') },
    }),
  );
  const attribute = await ec2.send(
    new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: 'userData' }),
  );
  assert.equal(attribute.UserData?.Value, second);
  await ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] }));
  await strata.cloud.compute.idle();
  assert.equal((await describe(instanceId)).State?.Name, 'running');
  assert.equal(await get(path, '/latest/user-data'), 'second');
});

test('a metadata options change tells the host through NetworkRefresh', async () => {
  const { instance, path } = await launch();
  let changes = 0;
  const deps = {
    db: strata.cloud.db,
    records: new InstanceRecords(strata.cloud.db),
    refresh: { changed: () => changes++ },
  };
  const accountId = strata.admin.accountId;
  const { options } = await modifyMetadataOptions(
    deps,
    accountId,
    instance.InstanceId!,
    { httpTokens: 'required' },
    noDryRun,
  );
  assert.equal(options.httpTokens, 'required');
  assert.equal(changes, 1);
  assert.equal((await call(path, 'GET', '/latest/meta-data/instance-id')).status, 401);
  await assert.rejects(
    modifyMetadataOptions(deps, accountId, instance.InstanceId!, { httpPutResponseHopLimit: 99 }, noDryRun),
  );
  assert.equal(changes, 1, 'a refused change tells nobody');
});
