import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CloudError as ApiError, catalogue } from '../cloud/errors.ts';
import { renderError } from './render-error.ts';
import { silentLogger } from '../base/log.ts';
import pino from 'pino';

test('every catalogue entry has an HTTP error status and a message', () => {
  for (const [code, entry] of Object.entries(catalogue)) {
    assert.ok(entry.status >= 400 && entry.status < 600, code);
    assert.ok(entry.template.length > 0, code);
  }
});

test('EC2 errors render as <Response><Errors><Error>, escaped, with the request id', () => {
  const rendered = renderError(
    new ApiError('InvalidVolume.NotFound', { id: 'vol-<x>' }),
    'ec2',
    'req-9',
    silentLogger,
  );
  assert.equal(rendered.status, 400);
  assert.equal(
    rendered.body,
    '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>InvalidVolume.NotFound</Code>' +
      '<Message>The volume &apos;vol-&lt;x&gt;&apos; does not exist.</Message></Error></Errors><RequestID>req-9</RequestID></Response>',
  );
});

test('EBS errors render as JSON with x-amzn-ErrorType; EC2 auth errors map to EBS codes', () => {
  const own = renderError(
    new ApiError('ResourceNotFoundException', { message: 'no such snapshot', reason: 'SNAPSHOT_NOT_FOUND' }),
    'ebs',
    'r',
    silentLogger,
  );
  assert.equal(own.status, 404);
  assert.equal(own.headers['x-amzn-errortype'], 'ResourceNotFoundException');
  assert.deepEqual(JSON.parse(own.body), {
    message: 'no such snapshot',
    Message: 'no such snapshot',
    Reason: 'SNAPSHOT_NOT_FOUND',
  });
  const auth = renderError(new ApiError('SignatureDoesNotMatch'), 'ebs', 'r', silentLogger);
  assert.equal(auth.status, 403);
  assert.equal(auth.headers['x-amzn-errortype'], 'AccessDeniedException');
});

test('anything else is InternalError 500 without its stack or message, which go to the log', () => {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  const fault = new RangeError('pool offset 123 out of range in /src/storage/pool.ts');
  const rendered = renderError(fault, 'ec2', 'req-5', logger);
  assert.equal(rendered.status, 500);
  assert.match(rendered.body, /<Code>InternalError<\/Code>/);
  assert.doesNotMatch(rendered.body, /pool|RangeError|\.ts/);
  const logged = JSON.parse(lines[0] ?? '{}') as { requestId?: string; err?: { stack?: string } };
  assert.equal(logged.requestId, 'req-5');
  assert.match(logged.err?.stack ?? '', /RangeError: pool offset 123/);
});
