// signedRequest refuses, at once, a query too long to sign in reasonable time (signing is quadratic in the
// number of query parameters: a fuzzed GET with 21 169 of them spun for many minutes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signedQueryParamsMax, signedRequest } from './signed-request.ts';

const key = { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret' };

test('a GET with more query parameters than signedQueryParamsMax is refused before signing', async () => {
  const params: Record<string, string> = { Action: 'RegisterImage', Version: '2016-11-15' };
  for (let n = 1; n <= 21_169; n++) params[`BlockDeviceMapping.${n}.Ebs.SnapshotId`] = 'snap-0';
  const started = Date.now();
  // Port 9 (discard) on loopback: nothing is sent, as the request is refused before it connects.
  await assert.rejects(
    signedRequest('http://127.0.0.1:9', key, { method: 'GET', params }),
    new RegExp(`21171 query parameters: signing more than ${signedQueryParamsMax}`),
  );
  assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
});
