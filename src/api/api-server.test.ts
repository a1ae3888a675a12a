// The EC2 Query protocol at the HTTP edge: GET and POST, Version, body limits, unknown actions, faults.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { XMLParser } from 'fast-xml-parser';
import { limits } from '../base/limits.ts';
import { startTestDaemon } from './testing/test-daemon.ts';
import type { TestDaemon } from './testing/test-daemon.ts';
import { signedRequest } from './testing/signed-request.ts';

let strata: TestDaemon;
before(async () => {
  strata = await startTestDaemon();
});
after(() => strata.close());

const parser = new XMLParser();
const version = '2016-11-15';

function errorOf(body: string): { code: string; message: string; requestId: string } {
  const doc = parser.parse(body) as {
    Response: { Errors: { Error: { Code: string; Message: string } }; RequestID: string };
  };
  return {
    code: doc.Response.Errors.Error.Code,
    message: doc.Response.Errors.Error.Message,
    requestId: doc.Response.RequestID,
  };
}

test('the same action answers over POST form and GET query, in the EC2 XML shape', async () => {
  for (const method of ['POST', 'GET'] as const) {
    const res = await signedRequest(strata.endpoint, strata.admin, {
      method,
      params: { Action: 'DescribeAvailabilityZones', Version: version, 'ZoneName.1': 'us-east-1b' },
    });
    assert.equal(res.status, 200, res.body);
    assert.match(
      res.body,
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<DescribeAvailabilityZonesResponse xmlns="http:\/\/ec2.amazonaws.com\/doc\/2016-11-15\/">/,
    );
    const doc = parser.parse(res.body) as {
      DescribeAvailabilityZonesResponse: {
        requestId: string;
        availabilityZoneInfo: { item: { zoneName: string } };
      };
    };
    assert.equal(doc.DescribeAvailabilityZonesResponse.availabilityZoneInfo.item.zoneName, 'us-east-1b');
    assert.equal(doc.DescribeAvailabilityZonesResponse.requestId, res.headers['x-amzn-requestid']);
  }
});

test('Version is required and must be 2016-11-15; Action must exist', async () => {
  const missing = await signedRequest(strata.endpoint, strata.admin, {
    params: { Action: 'DescribeRegions' },
  });
  assert.equal(missing.status, 400);
  assert.deepEqual(errorOf(missing.body).code, 'MissingParameter');
  assert.match(errorOf(missing.body).message, /Version/);
  const old = await signedRequest(strata.endpoint, strata.admin, {
    params: { Action: 'DescribeRegions', Version: '2010-01-01' },
  });
  assert.equal(errorOf(old.body).code, 'InvalidParameterValue');
  assert.equal(
    errorOf(old.body).message,
    'Value (2010-01-01) for parameter Version is invalid. Expected: 2016-11-15.',
  );
  const unknown = await signedRequest(strata.endpoint, strata.admin, {
    params: { Action: 'LaunchRockets', Version: version },
  });
  assert.equal(unknown.status, 400);
  assert.deepEqual(errorOf(unknown.body), {
    code: 'InvalidAction',
    message:
      'The action LaunchRockets is not valid for this web service: Strata does not implement it ' +
      '(docs/api-coverage.md lists the actions it does).',
    requestId: unknown.headers['x-amzn-requestid'],
  });
});

test('malformed parameters say what was expected and what came', async () => {
  const res = await signedRequest(strata.endpoint, strata.admin, {
    params: { Action: 'DescribeRegions', Version: version, DryRun: 'maybe' },
  });
  assert.equal(res.status, 400);
  assert.equal(
    errorOf(res.body).message,
    'Value (maybe) for parameter DryRun is invalid. Expected: true or false.',
  );
});

test('bodies over the limit are refused, whether declared or streamed', async () => {
  const declared = await rawPost(strata.endpoint, limits.requestBodyBytesMax + 1, true);
  assert.equal(declared.status, 413);
  assert.equal(errorOf(declared.body).code, 'RequestEntityTooLarge');
  const streamed = await rawPost(strata.endpoint, limits.requestBodyBytesMax * 4, false);
  assert.equal(streamed.status, 413);
  assert.equal(errorOf(streamed.body).code, 'RequestEntityTooLarge');
});

test('an unexpected fault is InternalError 500 with no internals in the response', async () => {
  const cloud = strata.cloud as unknown as { regions: { region: string } };
  const saved = cloud.regions;
  cloud.regions = {
    region: saved.region,
    get zones(): never {
      throw new TypeError('secret internal detail at /work/main/src/x.ts:12');
    },
  } as typeof saved;
  try {
    const res = await signedRequest(strata.endpoint, strata.admin, {
      params: { Action: 'DescribeAvailabilityZones', Version: version },
    });
    assert.equal(res.status, 500);
    assert.equal(errorOf(res.body).code, 'InternalError');
    assert.equal(errorOf(res.body).message, 'An internal error has occurred.');
    assert.doesNotMatch(res.body, /secret|TypeError|\.ts/);
  } finally {
    cloud.regions = saved;
  }
});

test('EBS direct paths answer JSON errors, authenticated as service ebs', async () => {
  const path = '/snapshots/snap-0123456789abcdef0/blocks';
  const res = await signedRequest(strata.endpoint, strata.admin, { method: 'GET', path, service: 'ebs' });
  assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.match(String(res.headers['x-amzn-errortype']), /Exception$/);
  assert.equal(typeof (JSON.parse(res.body) as { message: unknown }).message, 'string');
  const wrongService = await signedRequest(strata.endpoint, strata.admin, {
    method: 'GET',
    path,
    service: 'ec2',
  });
  assert.equal(wrongService.status, 403);
  assert.equal(wrongService.headers['x-amzn-errortype'], 'AccessDeniedException');
});

// Sends `size` bytes of form data; `declare` sets Content-Length, otherwise the body is chunked.
function rawPost(
  endpoint: string,
  size: number,
  declare: boolean,
): Promise<{ status: number; body: string }> {
  const url = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: '/',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          ...(declare ? { 'content-length': String(size) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    if (declare) {
      req.flushHeaders();
      return;
    }
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let sent = 0;
    const pump = (): void => {
      while (sent < size) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    req.on('error', () => undefined);
    pump();
  });
}

test('shutdown stops accepting but lets an in-flight request finish', async () => {
  const other = await startTestDaemon();
  const url = new URL(other.endpoint);
  const form = Buffer.from('Action=DescribeRegions&Version=2016-11-15');
  // An unsigned upload that is still streaming when close() starts: it must still get its (auth) answer.
  const answered = new Promise<number>((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: '/',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': String(form.length),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.write(form.subarray(0, 10));
    setTimeout(() => req.end(form.subarray(10)), 300);
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const closed = other.close();
  assert.equal(await answered, 401);
  await closed;
  await assert.rejects(fetch(`${other.endpoint}/_strata/health`));
});

test('shutdown finishes while a refused CONNECT client keeps its socket open', async () => {
  const other = await startTestDaemon();
  const url = new URL(other.endpoint);
  const socket = connect({ host: url.hostname, port: Number(url.port) });
  socket.on('error', () => {});
  const answer = new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('</Response>')) resolve(text);
    });
  });
  socket.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
  assert.match(await answer, /^HTTP\/1\.1 400 .*InvalidRequest/s);
  // The client neither reads on nor hangs up; the daemon must not wait for it.
  const started = Date.now();
  await other.close();
  assert.ok(Date.now() - started < 3000, `close took ${Date.now() - started} ms`);
  socket.destroy();
});
