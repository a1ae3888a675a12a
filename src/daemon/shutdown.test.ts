// SIGTERM stops `strata serve` within the shutdown grace time whatever its clients do: idle keep-alive
// sockets, a request whose body never finishes, a refused CONNECT with bytes after its head (that one once
// kept a fuzzed daemon from ever exiting).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { limits } from '../base/limits.ts';
import { serve, stop } from './testing/serve-process.ts';

// Resolves once the daemon has answered; the agent keeps the socket open and idle afterwards.
function keptAlive(endpoint: string, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${endpoint}/_strata/health`, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

// A raw socket that sends `bytes` and then nothing more, never hanging up.
function openSocket(endpoint: string, bytes: string): Promise<Socket> {
  const url = new URL(endpoint);
  const socket = connect({ host: url.hostname, port: Number(url.port), allowHalfOpen: true });
  socket.on('error', () => {});
  socket.resume();
  return new Promise((resolve) => socket.once('connect', () => socket.write(bytes, () => resolve(socket))));
}

test('SIGTERM stops the daemon within the grace time despite idle, stalled and refused connections', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'strata-shutdown-'));
  const agent = new Agent({ keepAlive: true, keepAliveMsecs: 60_000 });
  const sockets: Socket[] = [];
  try {
    const { child, endpoint } = await serve(dataDir, {});
    for (let i = 0; i < 3; i++) assert.equal(await keptAlive(endpoint, agent), 200);
    // A POST whose body never completes: in flight until the grace time runs out.
    const stalled = 'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n';
    sockets.push(await openSocket(endpoint, `${stalled}Content-Length: 1000\r\n\r\nAction=`));
    sockets.push(await openSocket(endpoint, 'CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\nhello'));
    sockets.push(await openSocket(endpoint, 'GET / HTTP/1.1\r\nBad Header\r\n\r\nmore'));
    await new Promise((resolve) => setTimeout(resolve, 500)); // the daemon has read it all
    const started = Date.now();
    // The grace time plus room for closing the store on a loaded machine; past it the daemon is killed.
    const boundMs = (limits.shutdownGraceSeconds + 20) * 1000;
    const killer = setTimeout(() => child.kill('SIGKILL'), boundMs);
    const code = await stop(child);
    clearTimeout(killer);
    const ms = Date.now() - started;
    assert.equal(code, 0, `exit code ${code} ${ms} ms after SIGTERM`);
    assert.ok(ms < boundMs, `exited ${ms} ms after SIGTERM`);
  } finally {
    for (const socket of sockets) socket.destroy();
    agent.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
