// SigV4 on every request: header and presigned forms, clock skew, unknown keys, wrong secrets, tampering.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { DescribeRegionsCommand } from '@aws-sdk/client-ec2';
import { XMLParser } from 'fast-xml-parser';
import { execFileSync } from 'node:child_process';
import { limits } from '../../base/limits.ts';
import { startTestDaemon } from '../testing/test-daemon.ts';
import type { TestDaemon } from '../testing/test-daemon.ts';
import { signedRequest } from '../testing/signed-request.ts';
import type { SignedRequestOptions } from '../testing/signed-request.ts';
import type { KeyPair } from '../../cloud/common/accounts.ts';

let strata: TestDaemon;
before(async () => {
  strata = await startTestDaemon();
});
after(() => strata.close());

const params = { Action: 'DescribeRegions', Version: '2016-11-15' };

async function codeOf(options: SignedRequestOptions, key: KeyPair = strata.admin): Promise<[number, string]> {
  const res = await signedRequest(strata.endpoint, key, { params, ...options });
  if (res.status === 200) return [200, 'OK'];
  const doc = new XMLParser().parse(res.body) as { Response: { Errors: { Error: { Code: string } } } };
  return [res.status, doc.Response.Errors.Error.Code];
}

test('Authorization-header signatures from the SDK and by hand are accepted', async () => {
  const out = await strata.ec2().send(new DescribeRegionsCommand({}));
  assert.equal(out.Regions?.[0]?.RegionName, 'us-east-1');
  assert.deepEqual(await codeOf({}), [200, 'OK']);
  assert.deepEqual(await codeOf({ method: 'GET' }), [200, 'OK']);
});

test('presigned URLs work until they expire', async () => {
  assert.deepEqual(await codeOf({ method: 'GET', presignExpiresSeconds: 60 }), [200, 'OK']);
  const signedLongAgo = new Date(Date.now() - 120_000);
  assert.deepEqual(await codeOf({ method: 'GET', presignExpiresSeconds: 60, signingDate: signedLongAgo }), [
    400,
    'RequestExpired',
  ]);
});

test("a URL presigned by botocore (the AWS CLI's signer) is accepted with the method it signed", async () => {
  const script = [
    'import botocore.session, sys',
    "c = botocore.session.get_session().create_client('ec2', region_name='us-east-1', endpoint_url=sys.argv[1],",
    '    aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])',
    "print(c.generate_presigned_url('describe_regions', Params={'RegionNames': ['us-east-1']}, ExpiresIn=60))",
  ].join('\n');
  const args = ['-c', script, strata.endpoint, strata.admin.accessKeyId, strata.admin.secretAccessKey];
  const url = execFileSync('python3', args).toString().trim();
  assert.match(url, /X-Amz-Signature=[0-9a-f]{64}/);
  // botocore signs EC2 presigned URLs with the operation's method, POST; any other method must fail.
  const post = await fetch(url, { method: 'POST' });
  assert.equal(post.status, 200, await post.text());
  const get = await fetch(url);
  assert.equal(get.status, 403);
  const tampered = await fetch(url.replace('RegionName.1=us-east-1', 'RegionName.1=us-west-2'), {
    method: 'POST',
  });
  assert.equal(tampered.status, 403);
});

test('clock skew beyond the limit is RequestExpired, either direction', async () => {
  const skew = limits.signatureClockSkewMsMax + 60_000;
  assert.deepEqual(await codeOf({ signingDate: new Date(Date.now() - skew) }), [400, 'RequestExpired']);
  assert.deepEqual(await codeOf({ signingDate: new Date(Date.now() + skew) }), [400, 'RequestExpired']);
  assert.deepEqual(await codeOf({ signingDate: new Date(Date.now() - 60_000) }), [200, 'OK']);
});

test('unknown keys, wrong secrets and missing signatures are refused', async () => {
  const stranger = { accessKeyId: 'AKIAUNKNOWNUNKNOWN00', secretAccessKey: strata.admin.secretAccessKey };
  assert.deepEqual(await codeOf({}, stranger), [401, 'AuthFailure']);
  const wrongSecret = { accessKeyId: strata.admin.accessKeyId, secretAccessKey: 'x'.repeat(40) };
  assert.deepEqual(await codeOf({}, wrongSecret), [403, 'SignatureDoesNotMatch']);
  assert.deepEqual(await codeOf({ unsigned: true }), [401, 'MissingAuthenticationToken']);
  await assert.rejects(strata.ec2(wrongSecret).send(new DescribeRegionsCommand({})), {
    name: 'SignatureDoesNotMatch',
  });
});

test('a body changed after signing fails, with or without a signed payload hash', async () => {
  const tamper = (body: string): string => body.replace('DescribeRegions', 'DescribeRegionz');
  assert.deepEqual(await codeOf({ tamper }), [403, 'SignatureDoesNotMatch']);
  const res = await signedRequest(strata.endpoint, strata.admin, {
    params,
    tamper,
    headers: { 'x-amz-content-sha256': 'f'.repeat(64) },
  });
  assert.equal(res.status, 403);
});

test('the credential scope must name this region and service', async () => {
  assert.deepEqual(await codeOf({ region: 'eu-west-1' }), [401, 'AuthFailure']);
  assert.deepEqual(await codeOf({ service: 's3' }), [401, 'AuthFailure']);
});

test('each account signs as itself', async () => {
  const bob = await strata.createAccount('bob');
  assert.notEqual(bob.accountId, strata.admin.accountId);
  assert.match(bob.accountId, /^\d{12}$/);
  assert.deepEqual(await codeOf({}, bob), [200, 'OK']);
  const found = await strata.cloud.accounts.lookupKey(bob.accessKeyId);
  assert.equal(found?.accountId, bob.accountId);
  // Bob's access key with the admin's secret is not bob, nor the admin.
  assert.deepEqual(
    await codeOf({}, { accessKeyId: bob.accessKeyId, secretAccessKey: strata.admin.secretAccessKey }),
    [403, 'SignatureDoesNotMatch'],
  );
});
