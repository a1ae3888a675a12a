// The console's routes over HTTP against a daemon: static files (types, fallback, no traversal), the
// sign-in exchange, and the extension API's signature, isolation and validation.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateSnapshotCommand, CreateVolumeCommand } from '@aws-sdk/client-ec2';
import { rawHttp } from '../testing/raw-http.ts';
import { signedRequest } from '../testing/signed-request.ts';
import { startTestDaemon } from '../testing/test-daemon.ts';
import type { TestDaemon } from '../testing/test-daemon.ts';
import { adminRequest } from '../../daemon/admin-socket.ts';
import { join } from 'node:path';

let strata: TestDaemon;

// One raw request as `HTTP/1.1 STATUS`, its headers (`name: value`) and its body, in one string to match on.
async function rawRequest(_endpoint: string, bytes: string): Promise<string> {
  const exchange = await rawHttp(Number(new URL(strata.endpoint).port), bytes, {
    timeoutMs: 10_000,
    end: false, // the server closes after its answer (Connection: close)
  });
  const response = exchange.responses[0];
  assert.ok(response !== undefined, 'an answer');
  const headers = [...response.headers].map(([name, value]) => `${name}: ${value}`).join('\r\n');
  return `HTTP/1.1 ${response.status} \r\n${headers}\r\n\r\n${response.body.toString('utf8')}`;
}
before(async () => {
  strata = await startTestDaemon();
});
after(() => strata.close());

test('static files: types, the index for routes, nothing outside the build', async () => {
  const index = await rawRequest(
    strata.endpoint,
    'GET /console/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  );
  assert.match(index, /^HTTP\/1\.1 (200|404) /);
  if (index.startsWith('HTTP/1.1 404')) {
    assert.match(index, /not built/);
    return; // a lone run without dist/: the build-dependent checks need `node scripts/build.mjs`
  }
  assert.match(index, /content-type: text\/html/i);
  assert.match(index, /content-security-policy: default-src 'self'/i);
  const script = await rawRequest(
    strata.endpoint,
    'GET /console/app.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  );
  assert.match(script, /^HTTP\/1\.1 200 [\s\S]*content-type: text\/javascript/i);
  const route = await rawRequest(
    strata.endpoint,
    'GET /console/volumes HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  );
  assert.match(route, /^HTTP\/1\.1 200 [\s\S]*<div id="app">/);
  for (const path of [
    '/console/..%2f..%2fpackage.json',
    '/console/%2e%2e/package.json',
    '/console/nope.js',
  ]) {
    const answer = await rawRequest(
      strata.endpoint,
      `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    assert.match(answer, /^HTTP\/1\.1 (404|400|401) /, path);
    assert.doesNotMatch(answer, /"name": "strata"/, path);
  }
  const post = await rawRequest(
    strata.endpoint,
    'POST /console/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
  );
  assert.match(post, /^HTTP\/1\.1 405 /);
});

test('the sign-in exchange gives the admin keys once, by POST only', async () => {
  const link = await adminRequest(join(strata.dataDir, 'admin.sock'), { verb: 'console-url' });
  const token = decodeURIComponent(/token=([^&]+)$/.exec(link)?.[1] ?? '');
  assert.ok(link.startsWith(`${strata.endpoint}/console/#/login?token=`), link);
  const exchange = (): ReturnType<typeof signedRequest> =>
    signedRequest(strata.endpoint, strata.admin, {
      method: 'POST',
      path: '/_strata/console/login',
      body: JSON.stringify({ token }),
      headers: { 'content-type': 'application/json' },
      unsigned: true,
    });
  const first = await exchange();
  assert.equal(first.status, 200, first.body);
  assert.deepEqual(JSON.parse(first.body), {
    accessKeyId: strata.admin.accessKeyId,
    secretAccessKey: strata.admin.secretAccessKey,
    region: strata.region,
  });
  const second = await exchange();
  assert.equal(second.status, 403);
  assert.equal(second.headers['x-amzn-errortype'], 'AccessDeniedException');
  const bad = await signedRequest(strata.endpoint, strata.admin, {
    method: 'POST',
    path: '/_strata/console/login',
    body: '{not json',
    unsigned: true,
  });
  assert.equal(bad.status, 400);
});

test('the extension API: signed for strata, per account, validated', async () => {
  const ec2 = strata.ec2();
  const volume = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${strata.region}a`, Size: 1 }));
  const volumeId = volume.VolumeId ?? '';
  const snapshot = await ec2.send(new CreateSnapshotCommand({ VolumeId: volumeId }));
  await strata.cloud.ebs.idle();
  const get = (
    path: string,
    key = strata.admin,
    service = 'strata',
    params: Record<string, string> = {},
  ): ReturnType<typeof signedRequest> =>
    signedRequest(strata.endpoint, key, { method: 'GET', path: `/_strata/ext/${path}`, service, params });

  const overview = await get('overview');
  assert.equal(overview.status, 200, overview.body);
  const facts = JSON.parse(overview.body) as {
    pool: { fullnessPercent: number };
    account: { volumes: number };
  };
  assert.ok(facts.pool.fullnessPercent >= 0 && facts.pool.fullnessPercent <= 100);
  assert.ok(facts.account.volumes >= 1);

  const detail = JSON.parse((await get(`volumes/${volumeId}`)).body) as { sizeBytes: number; nbdUri: string };
  assert.equal(detail.sizeBytes, 1024 ** 3);
  assert.match(detail.nbdUri, new RegExp(`^nbd\\+unix:///${volumeId}\\?socket=`));
  const map = JSON.parse(
    (await get(`volumes/${volumeId}/allocation`, strata.admin, 'strata', { cells: '8' })).body,
  ) as { cells: number[] };
  assert.deepEqual(map.cells, [0, 0, 0, 0, 0, 0, 0, 0], 'a new volume is all thin');
  const snap = await get(`snapshots/${snapshot.SnapshotId}`);
  assert.equal(snap.status, 200, snap.body);

  const bob = await strata.createAccount('bob');
  const hidden = await get(`volumes/${volumeId}`, bob);
  assert.equal(hidden.status, 404);
  assert.equal(hidden.headers['x-amzn-errortype'], 'ResourceNotFoundException');
  assert.equal((await get(`snapshots/${snapshot.SnapshotId}`, bob)).status, 404);
  assert.equal((await get('overview', { ...strata.admin, secretAccessKey: 'x'.repeat(40) })).status, 403);
  assert.equal(
    (await get('overview', strata.admin, 'ec2')).status,
    403,
    'an EC2 signature is not an extension one',
  );
  assert.equal(
    (await get(`volumes/${volumeId}/allocation`, strata.admin, 'strata', { cells: '0' })).status,
    400,
  );
  assert.equal(
    (await get(`volumes/${volumeId}/allocation`, strata.admin, 'strata', { cells: '99999' })).status,
    400,
  );
  assert.equal((await get('nothing/here')).status, 400);
});
