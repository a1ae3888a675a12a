// Raw HTTP cases (node:net): request lines, targets in every form, headers, chunked and truncated bodies,
// pipelining and byte-by-byte delivery. Each case is the bytes to send and how to send them.
import type { Chooser, KnownIds } from './fuzz-values.ts';
import { anyValue, randomText, wellFormed } from './fuzz-values.ts';

/** One raw exchange to play. */
export interface HttpCase {
  readonly bytes: Buffer;
  /** Write in pieces of this many bytes. */
  readonly pieceBytes: number;
  /** A well-formed, complete request: it must get an answer, not just a hang-up. */
  readonly mustAnswer: boolean;
  /** One line for reports. */
  readonly summary: string;
}

const methods = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT'];
const badMethods = ['get', 'G\0T', 'GETT', 'M-SEARCH', 'X'.repeat(100), ''];
const versions = ['HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.1 x', 'HTTP/9.9', '', 'http/1.1'];

function target(choose: Chooser, ids: KnownIds): string {
  const snap = ids.pick(choose, 'snap');
  const fixed = [
    '/',
    '//',
    '//[::1',
    '//:99999',
    '//%zz',
    '//%1-s',
    'http://[::1/',
    'http://127.0.0.1/?Action=DescribeVolumes&Version=2016-11-15',
    'https://x:99999/',
    'http://',
    '127.0.0.1:80',
    '*',
    '/_strata/health',
    '/_strata/health?x=%zz',
    '/_strata/../_strata/health',
    '/%E0%A4%A',
    `/snapshots/${snap}/blocks`,
    '/snapshots/%E0%A4%A/blocks',
    `/snapshots/${snap}/blocks/0?blockToken=%zz`,
    '/snapshots/completion/%',
    '/snapshots',
    '/?Action=DescribeVolumes&Version=2016-11-15',
    '/?Action=%zz&Version=%',
    '/?&&&==&',
    '/#frag',
    '/\\\\x',
  ];
  const roll = choose.next();
  if (roll < 0.6) return choose.pick(fixed);
  if (roll < 0.7) return `/${'a'.repeat(choose.int(1000, 20_000))}`;
  if (roll < 0.85)
    return `/?${encodeURIComponent(wellFormed(anyValue(choose, ids)))}=${encodeURIComponent(wellFormed(randomText(choose, 8)))}`;
  return `/${randomText(choose, choose.int(1, 40)).replace(/[\r\n ]/g, '')}`;
}

function headers(choose: Chooser, bodyLength: number): string[] {
  const lines: string[] = [];
  if (choose.chance(0.9))
    lines.push(`Host: ${choose.pick(['127.0.0.1', '[::1', '', 'x'.repeat(300), 'a b'])}`);
  if (choose.chance(0.1)) lines.push('Host: second');
  const type = choose.pick([
    'application/x-www-form-urlencoded',
    'application/json',
    'text/plain',
    'multipart/form-data; boundary=x',
    '',
  ]);
  if (choose.chance(0.7)) lines.push(`Content-Type: ${type}`);
  if (choose.chance(0.3)) lines.push(`Authorization: ${authorization(choose)}`);
  if (choose.chance(0.2))
    lines.push(`X-Amz-Date: ${choose.pick(['20200101T000000Z', 'x', '99999999T999999Z', ''])}`);
  if (choose.chance(0.1)) lines.push(`X-Amz-Content-Sha256: ${choose.pick(['UNSIGNED-PAYLOAD', 'zz', ''])}`);
  if (choose.chance(0.05)) lines.push(`X-Long: ${'v'.repeat(choose.int(1000, 20_000))}`);
  if (choose.chance(0.05)) for (let i = 0; i < 200; i++) lines.push(`X-Many-${i}: ${i}`);
  if (choose.chance(0.05)) lines.push(` folded: continuation`);
  if (choose.chance(0.05)) lines.push(`Bad\0Name: v`);
  if (choose.chance(0.05)) lines.push(`Expect: 100-continue`);
  if (choose.chance(0.05)) lines.push(`Connection: keep-alive`);
  if (choose.chance(0.03)) lines.push('Upgrade: websocket', 'Connection: Upgrade');
  if (choose.chance(0.05)) lines.push(`Content-Length: ${bodyLength}`, `Content-Length: ${bodyLength + 1}`);
  return lines;
}

function authorization(choose: Chooser): string {
  return choose.pick([
    'AWS4-HMAC-SHA256',
    'AWS4-HMAC-SHA256 Credential=AKIA/20200101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00',
    'AWS4-HMAC-SHA256 Credential=AKIASTRATAFUZZADMIN0/x/y/z/w, SignedHeaders=, Signature=',
    'AWS4-HMAC-SHA256 Credential=%zz, SignedHeaders=host;;;, Signature=zz',
    'AWS AKIA:sig',
    'Bearer x',
    'AWS4-HMAC-SHA256 Credential=' + 'A'.repeat(5000),
  ]);
}

function body(choose: Chooser, ids: KnownIds): Buffer {
  const roll = choose.next();
  if (roll < 0.3) return Buffer.alloc(0);
  if (roll < 0.6) {
    const form = `Action=${choose.pick(['DescribeVolumes', 'CreateTags', 'X', ''])}&Version=2016-11-15&V=${encodeURIComponent(wellFormed(anyValue(choose, ids)))}`;
    return Buffer.from(form);
  }
  if (roll < 0.8) return Buffer.from(JSON.stringify({ VolumeSize: anyValue(choose, ids) }));
  return choose.bytes(choose.int(1, 4096));
}

/** One random raw HTTP case. */
export function httpCase(choose: Chooser, ids: KnownIds): HttpCase {
  const plainRequest = choose.chance(0.5);
  const method = plainRequest || choose.chance(0.7) ? choose.pick(methods) : choose.pick(badMethods);
  const version = plainRequest || choose.chance(0.7) ? 'HTTP/1.1' : choose.pick(versions);
  const requestTarget = target(choose, ids);
  const payload = body(choose, ids);
  const framing = choose.pick(['length', 'length', 'chunked', 'bad-chunked', 'short', 'none']);
  const lines = [`${method} ${requestTarget} ${version}`.trimEnd(), ...headers(choose, payload.length)];
  let sent: Buffer;
  if (framing === 'chunked' || framing === 'bad-chunked') {
    lines.push('Transfer-Encoding: chunked');
    sent = chunked(choose, payload, framing === 'bad-chunked');
  } else if (framing === 'length' || framing === 'short') {
    lines.push(`Content-Length: ${payload.length + (framing === 'short' ? choose.int(1, 1000) : 0)}`);
    sent = payload;
  } else {
    sent = Buffer.alloc(0);
  }
  lines.push('Connection: close');
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8');
  const pipelined = choose.chance(0.1)
    ? Buffer.from('GET /_strata/health HTTP/1.1\r\nHost: x\r\n\r\n')
    : Buffer.alloc(0);
  const bytes = Buffer.concat([head, sent, pipelined]);
  // Whatever Node's parser makes of a complete request (an answer, or its own 400/431 with a lingering close:
  // lingering-close.ts), the client reads an answer; only a body shorter than declared may end unanswered,
  // and a broken chunked body after `Upgrade:`, which Node's parser drops without telling the server
  // (no clientError: docs/status.md, API fuzz runs).
  const upgrade = lines.includes('Upgrade: websocket');
  return {
    bytes,
    pieceBytes: choose.chance(0.1) ? choose.int(1, 16) : bytes.length,
    mustAnswer: framing !== 'short' && !(upgrade && framing === 'bad-chunked'),
    summary: `${method} ${JSON.stringify(requestTarget.slice(0, 80))} ${version} ${framing} body=${payload.length}B`,
  };
}

function chunked(choose: Chooser, payload: Buffer, broken: boolean): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < payload.length;) {
    const size = Math.min(payload.length - at, choose.int(1, 1500));
    parts.push(Buffer.from(`${size.toString(16)}\r\n`), payload.subarray(at, at + size), Buffer.from('\r\n'));
    at += size;
  }
  if (!broken) return Buffer.concat([...parts, Buffer.from('0\r\n\r\n')]);
  const junk = choose.pick([
    'zz\r\n',
    'ffffffffffffffff\r\nx',
    '5\r\nabc',
    '-1\r\n\r\n',
    '0\r\nX-Trailer: \0\r\n\r\n',
    '',
  ]);
  return Buffer.concat([...parts, Buffer.from(junk)]);
}
