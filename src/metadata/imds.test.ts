import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createImdsHandler } from './imds-handler.ts';
import { listenImdsChannel } from './imds-sockets.ts';
import type { InstanceMetadata, MetadataOptions } from './metadata.ts';
import { instance } from './testing/instance-metadata.ts';
import { SessionTokens } from './session-tokens.ts';

interface Reply {
  status: number;
  body: Buffer;
  headers: Record<string, string | string[] | undefined>;
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
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks), headers: response.headers }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

async function service(t: TestContext) {
  const directory = await mkdtemp(join(tmpdir(), 'strata-imds-'));
  let nowMs = Date.parse('2026-12-02T12:00:00Z');
  const instances = new Map<string, InstanceMetadata>([
    [
      'i-aaaaaaaaaaaaaaaaa',
      instance('i-aaaaaaaaaaaaaaaaa', '172.31.0.10', { userData: Buffer.from([0, 1, 2, 255, 10]) }),
    ],
    ['i-bbbbbbbbbbbbbbbbb', instance('i-bbbbbbbbbbbbbbbbb', '172.31.0.11')],
  ]);
  const signer = generateKeyPairSync('ed25519');
  const handler = createImdsHandler({
    source: async (instanceId) => instances.get(instanceId),
    tokens: new SessionTokens(randomBytes(32), () => nowMs),
    sign: (document) => sign(null, Buffer.from(document), signer.privateKey).toString('base64'),
  });
  const a = await listenImdsChannel(handler, directory, 'i-aaaaaaaaaaaaaaaaa');
  const b = await listenImdsChannel(handler, directory, 'i-bbbbbbbbbbbbbbbbb');
  const gone = await listenImdsChannel(handler, directory, 'i-ccccccccccccccccc');
  t.after(async () => {
    for (const channel of [a, b, gone]) await channel.close();
    await rm(directory, { recursive: true, force: true });
  });
  const setOptions = (instanceId: string, options: Partial<MetadataOptions>) => {
    const current = instances.get(instanceId)!;
    instances.set(instanceId, { ...current, options: { ...current.options, ...options } });
  };
  return {
    a: a.path,
    b: b.path,
    gone: gone.path,
    signer,
    setOptions,
    advance: (ms: number) => (nowMs += ms),
  };
}

const text = async (reply: Promise<Reply>) => {
  const { status, body } = await reply;
  assert.equal(status, 200, body.toString());
  return body.toString();
};

test('IMDSv1: each channel answers its own instance, and categories lay out as on EC2', async (t) => {
  const { a, b, gone } = await service(t);
  assert.equal(await text(call(a, 'GET', '/latest/meta-data/instance-id')), 'i-aaaaaaaaaaaaaaaaa');
  assert.equal(await text(call(b, 'GET', '/latest/meta-data/instance-id')), 'i-bbbbbbbbbbbbbbbbb');
  assert.equal(await text(call(b, 'GET', '/latest/meta-data/local-ipv4')), '172.31.0.11');
  assert.equal(
    (await call(gone, 'GET', '/latest/meta-data/instance-id')).status,
    404,
    'an instance that is gone',
  );
  const listing = (await text(call(a, 'GET', '/latest/meta-data/'))).split('\n');
  for (const entry of [
    'ami-id',
    'block-device-mapping/',
    'instance-type',
    'local-hostname',
    'mac',
    'network/',
    'placement/',
    'public-ipv4',
    'public-keys/',
    'reservation-id',
    'security-groups',
  ]) {
    assert.ok(listing.includes(entry), `meta-data/ lists ${entry}: ${listing.join(' ')}`);
  }
  assert.ok(!listing.includes('tags/'), 'tags are off by default');
  assert.equal(
    await text(call(a, 'GET', '/latest/meta-data/placement')),
    'availability-zone\navailability-zone-id\nregion',
  );
  assert.equal(await text(call(a, 'GET', '/latest/meta-data/placement/region')), 'us-east-1');
  assert.equal(await text(call(a, 'GET', '/latest/meta-data/public-keys/')), '0=my-key');
  assert.match(
    await text(call(a, 'GET', '/latest/meta-data/public-keys/0/openssh-key')),
    /^ssh-ed25519 \S+ me\n$/,
  );
  assert.equal(await text(call(a, 'GET', '/latest/meta-data/block-device-mapping/root')), '/dev/xvda');
  assert.equal(
    await text(call(a, 'GET', '/latest/meta-data/network/interfaces/macs/02:00:00:00:00:0a/vpc-id')),
    'vpc-0123456789abcdef0',
  );
  assert.equal(
    await text(call(a, 'GET', '/2009-04-04/meta-data/instance-type')),
    't3.micro',
    'dated versions serve the same tree',
  );
  assert.ok((await text(call(a, 'GET', '/'))).split('\n').includes('latest'));
  for (const missing of [
    '/1999-01-01/meta-data/',
    '/latest/meta-data/nothing',
    '/latest/meta-data/ami-id/more',
    '/latest/user-data/x',
  ]) {
    assert.equal((await call(a, 'GET', missing)).status, 404, missing);
  }
});

test('user data is raw bytes, and 404 where none was given; the identity document is signed', async (t) => {
  const { a, b, signer } = await service(t);
  const userData = await call(a, 'GET', '/latest/user-data');
  assert.deepEqual([...userData.body], [0, 1, 2, 255, 10]);
  assert.equal((await call(b, 'GET', '/latest/user-data')).status, 404);
  const document = await text(call(b, 'GET', '/latest/dynamic/instance-identity/document'));
  const parsed = JSON.parse(document) as Record<string, unknown>;
  assert.equal(parsed.instanceId, 'i-bbbbbbbbbbbbbbbbb');
  assert.equal(parsed.privateIp, '172.31.0.11');
  assert.equal(parsed.accountId, '123456789012');
  assert.equal(parsed.pendingTime, '2026-12-02T10:00:00Z');
  const signature = await text(call(b, 'GET', '/latest/dynamic/instance-identity/signature'));
  assert.ok(verify(null, Buffer.from(document), signer.publicKey, Buffer.from(signature, 'base64')));
});

test("IMDSv2: tokens are minted by PUT, bound to their instance and expiry; EC2's 400, 401, 403 and 405", async (t) => {
  const { a, b, advance } = await service(t);
  const minted = await call(a, 'PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '60' });
  assert.equal(minted.status, 200);
  assert.equal(minted.headers['x-aws-ec2-metadata-token-ttl-seconds'], '60');
  const token = minted.body.toString();
  const withToken = { 'x-aws-ec2-metadata-token': token };
  assert.equal(await text(call(a, 'GET', '/latest/meta-data/instance-id', withToken)), 'i-aaaaaaaaaaaaaaaaa');
  assert.equal(
    (await call(b, 'GET', '/latest/meta-data/instance-id', withToken)).status,
    401,
    "A's token on B's channel",
  );
  assert.equal(
    (await call(a, 'GET', '/latest/meta-data/instance-id', { 'x-aws-ec2-metadata-token': `${token}x` }))
      .status,
    401,
  );
  for (const ttl of ['0', '21601', 'abc', '-5', '1e3']) {
    assert.equal(
      (await call(a, 'PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': ttl })).status,
      400,
      ttl,
    );
  }
  assert.equal((await call(a, 'PUT', '/latest/api/token')).status, 400, 'no ttl');
  const proxied = { 'x-aws-ec2-metadata-token-ttl-seconds': '60', 'x-forwarded-for': '10.0.0.1' };
  assert.equal((await call(a, 'PUT', '/latest/api/token', proxied)).status, 403);
  assert.equal((await call(a, 'PUT', '/latest/meta-data/instance-id')).status, 405);
  assert.equal((await call(a, 'POST', '/latest/api/token')).status, 405);
  advance(61_000);
  assert.equal((await call(a, 'GET', '/latest/meta-data/instance-id', withToken)).status, 401, 'expired');
});

test('HttpTokens required refuses v1; HttpEndpoint disabled is 403; InstanceMetadataTags serves tags', async (t) => {
  const { a, setOptions } = await service(t);
  setOptions('i-aaaaaaaaaaaaaaaaa', { httpTokens: 'required' });
  assert.equal((await call(a, 'GET', '/latest/meta-data/instance-id')).status, 401);
  const token = await text(
    call(a, 'PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '21600' }),
  );
  assert.equal(
    await text(call(a, 'GET', '/latest/meta-data/instance-id', { 'x-aws-ec2-metadata-token': token })),
    'i-aaaaaaaaaaaaaaaaa',
  );
  assert.equal(
    (await call(a, 'GET', '/latest/meta-data/tags/instance/Name', { 'x-aws-ec2-metadata-token': token }))
      .status,
    404,
  );
  setOptions('i-aaaaaaaaaaaaaaaaa', { httpTokens: 'optional', instanceMetadataTags: 'enabled' });
  assert.equal(await text(call(a, 'GET', '/latest/meta-data/tags/instance')), 'Name\nrole');
  assert.equal(await text(call(a, 'GET', '/latest/meta-data/tags/instance/role')), 'front');
  setOptions('i-aaaaaaaaaaaaaaaaa', { httpEndpoint: 'disabled' });
  assert.equal((await call(a, 'GET', '/latest/meta-data/instance-id')).status, 403);
  assert.equal(
    (await call(a, 'PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '60' })).status,
    403,
  );
});
