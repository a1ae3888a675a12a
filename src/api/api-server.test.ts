// The EC2 Query protocol at the HTTP edge: GET and POST, Version, body limits, unknown actions, faults.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { XMLParser } from 'fast-xml-parser';
import pino from 'pino';
import { limits } from '../base/limits.ts';
import { startTestDaemon } from './testing/test-daemon.ts';
import type { TestDaemon } from './testing/test-daemon.ts';
import { signedRequest } from './testing/signed-request.ts';
import { bodyDrainBytesMax, startApiServer } from './api-server.ts';

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
  // Read to the end first (and dropped), so the client is not reset mid-send and reads its 413.
  const declared = await rawPost(strata.endpoint, limits.requestBodyBytesMax + 1, 'declared');
  assert.equal(declared.status, 413);
  assert.equal(errorOf(declared.body).code, 'RequestEntityTooLarge');
  const streamed = await rawPost(strata.endpoint, limits.requestBodyBytesMax * 4, 'chunked');
  assert.equal(streamed.status, 413);
  assert.equal(errorOf(streamed.body).code, 'RequestEntityTooLarge');
  // Past what is worth reading, a declared body is refused before it is sent.
  const huge = await rawPost(strata.endpoint, limits.requestBodyBytesMax + bodyDrainBytesMax + 1, 'unsent');
  assert.equal(huge.status, 413);
  assert.equal(errorOf(huge.body).code, 'RequestEntityTooLarge');
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

// Sends `size` bytes of form data: with Content-Length (`declared`), chunked, or only declared (`unsent`:
// the headers go, the body never does).
function rawPost(
  endpoint: string,
  size: number,
  mode: 'declared' | 'chunked' | 'unsent',
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
          ...(mode !== 'chunked' ? { 'content-length': String(size) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    if (mode === 'unsent') {
      req.flushHeaders();
      return;
    }
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let sent = 0;
    const pump = (): void => {
      while (sent < size) {
        const piece = chunk.subarray(0, Math.min(chunk.length, size - sent));
        sent += piece.length;
        if (!req.write(piece)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
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

// Sends a head and half a body, waits, then the rest: what came back before the rest, and in the end.
async function answeredAfterBody(head: string): Promise<{ early: string; text: string }> {
  const url = new URL(strata.endpoint);
  const socket = connect({ host: url.hostname, port: Number(url.port) });
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
  socket.on('error', () => {});
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.write(`${head}content-length: 11\r\nconnection: close\r\n\r\nAction`);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const early = text;
  socket.end('=Desc');
  await closed;
  return { early, text };
}

test('an error found before the body is read is answered once the body is in, not before (the close would reset)', async () => {
  const star = await answeredAfterBody('OPTIONS * HTTP/1.1\r\nhost: x\r\n');
  assert.equal(star.early, '');
  assert.match(star.text, /^HTTP\/1\.1 400 .*InvalidRequest/s);
  // Without Host, Node's parser would answer a bare 400 at once; the API answers in its own shape.
  const hostless = await answeredAfterBody('POST / HTTP/1.1\r\n');
  assert.equal(hostless.early, '');
  assert.match(hostless.text, /^HTTP\/1\.1 4\d\d .*<Response><Errors>/s);
});

test('an unknown path is a clear 404, signed or not, never an authentication error', async () => {
  for (const path of ['/moto-api/reset', '/latest/meta-data/', '/ec2']) {
    const unsigned = await signedRequest(strata.endpoint, strata.admin, {
      method: 'POST',
      path,
      unsigned: true,
    });
    assert.equal(unsigned.status, 404, `${path}: ${unsigned.body}`);
    assert.equal(errorOf(unsigned.body).code, 'UnknownPath');
    assert.match(errorOf(unsigned.body).message, new RegExp(`There is no API at ${path}`));
    const signed = await signedRequest(strata.endpoint, strata.admin, {
      path,
      params: { Action: 'DescribeRegions', Version: version },
    });
    assert.equal(signed.status, 404);
  }
});

test('failed requests are logged with their action, a bad signature and an unknown action too', async () => {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
  const server = await startApiServer({ cloud: strata.cloud, logger, host: '127.0.0.1', port: 0 });
  try {
    const failures: Record<string, string>[] = [
      { Action: 'DescribeVolumes', Version: version, 'VolumeId.1': 'vol-nope' },
      { Action: 'NoSuchAction', Version: version },
    ];
    for (const params of failures) {
      const res = await signedRequest(server.url, strata.admin, { params });
      assert.equal(res.status, 400);
    }
    const badKey = { ...strata.admin, secretAccessKey: 'wrong' };
    const denied = await signedRequest(server.url, badKey, {
      params: { Action: 'DescribeSnapshots', Version: version },
    });
    assert.equal(denied.status, 403);
  } finally {
    await server.close();
  }
  const requests = lines.map((line) => JSON.parse(line) as { msg: string; action?: string; status?: number });
  const logged = requests.filter((r) => r.msg === 'request').map((r) => [r.action, r.status]);
  assert.deepEqual(logged, [
    ['DescribeVolumes', 400],
    ['NoSuchAction', 400],
    ['DescribeSnapshots', 403],
  ]);
});

test('list indexes from 0 (as libcloud sends them) are read in order; empty tag specifications refused', async () => {
  const created = await signedRequest(strata.endpoint, strata.admin, {
    params: {
      Action: 'CreateVolume',
      Version: version,
      AvailabilityZone: `${strata.region}a`,
      Size: '1',
      'TagSpecification.0.ResourceType': 'volume',
      'TagSpecification.0.Tag.0.Key': 'first',
      'TagSpecification.0.Tag.0.Value': 'a',
      'TagSpecification.0.Tag.1.Key': 'second',
    },
  });
  assert.equal(created.status, 200, created.body);
  const volumeId = /<volumeId>(vol-[0-9a-f]+)<\/volumeId>/.exec(created.body)?.[1] ?? '';
  const tagged = await signedRequest(strata.endpoint, strata.admin, {
    params: { Action: 'CreateTags', Version: version, 'ResourceId.0': volumeId, 'Tag.0.Key': 'third' },
  });
  assert.equal(tagged.status, 200, tagged.body);
  const described = await signedRequest(strata.endpoint, strata.admin, {
    params: {
      Action: 'DescribeVolumes',
      Version: version,
      'Filter.0.Name': 'volume-id',
      'Filter.0.Value.0': volumeId,
    },
  });
  assert.equal(described.status, 200, described.body);
  const keys = [...described.body.matchAll(/<key>([^<]*)<\/key>/g)].map((m) => m[1]).sort();
  assert.deepEqual(keys, ['first', 'second', 'third']);
  const empty = await signedRequest(strata.endpoint, strata.admin, {
    params: {
      Action: 'CreateVolume',
      Version: version,
      AvailabilityZone: `${strata.region}a`,
      Size: '1',
      'TagSpecification.1.ResourceType': 'volume',
    },
  });
  assert.equal(empty.status, 400);
  assert.deepEqual(errorOf(empty.body), {
    code: 'InvalidParameterValue',
    message: 'Tag specification must have at least one tag',
    requestId: errorOf(empty.body).requestId,
  });
});
