// Requests Node's parser refuses get their 4xx even while the client is still sending, and the refused
// connection is closed when the client hangs up, or lingerMs later when it does not.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { lingerMs } from './lingering-close.ts';
import { startTestDaemon } from './testing/test-daemon.ts';
import type { TestDaemon } from './testing/test-daemon.ts';

let strata: TestDaemon;
before(async () => {
  strata = await startTestDaemon();
});
after(() => strata.close());

// What a client sees for one GET: its status, or the socket error that replaced it.
function get(path: string): Promise<string> {
  const url = new URL(strata.endpoint);
  return new Promise((resolve) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(String(res.statusCode)));
      res.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? String(error)));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? String(error)));
    req.end();
  });
}

test('a request head past 16 KiB is answered 431 every time, not reset while the client still sends it', async () => {
  // 200 KB of query: Node stops parsing at 16 KiB, long before the client has written it all. Before the
  // lingering close, several of these 20 ended in ECONNRESET (as signed EBS requests did in the fuzzer).
  const query = Array.from({ length: 10_000 }, (_, i) => `p${i}=abcdefghij`).join('&');
  const seen: string[] = [];
  for (let i = 0; i < 20; i++) seen.push(await get(`/?${query}`));
  assert.deepEqual(new Set(seen), new Set(['431']), seen.join(' '));
  assert.equal(await get('/_strata/health'), '200');
});

// Sends `bytes` on a raw socket and resolves with what came back once the server closes, and how long that
// took. The socket stays half-open after the server's answer (a plain socket would hang up on it at once):
// with `end` it hangs up 300 ms in; without, it goes on sending a byte every 200 ms, so it learns (by a
// reset) when the server has given up on it.
function refused(bytes: string, end: boolean): Promise<{ text: string; ms: number }> {
  const url = new URL(strata.endpoint);
  const started = Date.now();
  const socket = connect({ host: url.hostname, port: Number(url.port), allowHalfOpen: true });
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  socket.on('error', () => {});
  socket.write(bytes);
  if (end) setTimeout(() => socket.end(), 300);
  const drip = end ? undefined : setInterval(() => socket.write('x'), 200);
  return new Promise((resolve) =>
    socket.once('close', () => {
      clearInterval(drip);
      resolve({ text, ms: Date.now() - started });
    }),
  );
}

test('a refused request is answered 400 and its socket closes as soon as the client hangs up', async () => {
  const { text, ms } = await refused('NOT A REQUEST\r\n\r\nmore bytes after the bad head', true);
  assert.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.ok(ms >= 300 && ms < lingerMs, `closed after ${ms} ms`);
});

test('a refused client that never hangs up is cut off after the linger time', async () => {
  const { text, ms } = await refused('GET / HTTP/1.1\r\nBad Header\r\n\r\n', false);
  assert.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.ok(ms >= lingerMs - 100 && ms < lingerMs + 10_000, `closed after ${ms} ms`);
});
