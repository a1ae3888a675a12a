// Fuzz: valid sessions, mutated (bit flips, truncation, junk), sent in random splits, sometimes abandoned.
// The server must answer or hang up, never crash, never change what the session could not write.
// A TLS listener gets STARTTLS followed by junk or a mangled ClientHello.
// STRATA_NBD_FUZZ_ITERATIONS raises the count; STRATA_NBD_FUZZ_SEED replays a run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/prng.ts';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { newId } from '../base/ids.ts';
import {
  BASE_ALLOCATION,
  Cmd,
  HandshakeFlag,
  IHAVEOPT,
  NBD_MAGIC,
  OPTION_REPLY_MAGIC,
  Opt,
  Rep,
  REQUEST_MAGIC,
} from './protocol.ts';
import { RawClient, goData, metaContextData } from './testing/raw-client.ts';
import { run, startHarness } from './testing/harness.ts';
import { startNbdServer } from './start-nbd-server.ts';
import { writePskFile } from './testing/tls-fixtures.ts';
import type { Harness } from './testing/harness.ts';

const ITERATIONS = Number(process.env.STRATA_NBD_FUZZ_ITERATIONS ?? 150);
const SEED = Number(process.env.STRATA_NBD_FUZZ_SEED ?? Date.now() % 2 ** 31);
const SIZE = 1024 * 1024;
const SIMPLE_MAGIC_BYTES = Buffer.from([0x67, 0x44, 0x66, 0x98]);
const STRUCTURED_MAGIC_BYTES = Buffer.from([0x66, 0x8e, 0x33, 0xef]);
let harness: Harness;

before(async () => {
  harness = await startHarness('pool');
});
after(async () => harness.close());

function option(code: number, data: Buffer): Buffer {
  const header = Buffer.alloc(16);
  header.writeBigUInt64BE(IHAVEOPT, 0);
  header.writeUInt32BE(code, 8);
  header.writeUInt32BE(data.length, 12);
  return Buffer.concat([header, data]);
}

function request(random: () => number, cookie: number): Buffer {
  const type = random() < 0.9 ? Math.floor(random() * 8) : Math.floor(random() * 65536);
  const safeType = type === Cmd.DISC && random() < 0.8 ? Cmd.READ : type;
  const length = Math.floor(random() * (random() < 0.5 ? 4096 : 128 * 1024));
  const offset = random() < 0.9 ? Math.floor(random() * SIZE) : Math.floor(random() * 2 ** 40);
  const header = Buffer.alloc(28);
  header.writeUInt32BE(REQUEST_MAGIC, 0);
  header.writeUInt16BE(random() < 0.8 ? 0 : Math.floor(random() * 64), 4);
  header.writeUInt16BE(safeType, 6);
  header.writeBigUInt64BE(BigInt(cookie), 8);
  header.writeBigUInt64BE(BigInt(offset), 16);
  header.writeUInt32BE(length, 24);
  return safeType === Cmd.WRITE ? Buffer.concat([header, Buffer.alloc(length, cookie & 0xff)]) : header;
}

function session(random: () => number, exportName: string): Buffer {
  const flags = Buffer.alloc(4);
  flags.writeUInt32BE(HandshakeFlag.FIXED_NEWSTYLE | HandshakeFlag.NO_ZEROES);
  const parts: Buffer[] = [flags];
  if (random() < 0.7) parts.push(option(Opt.STRUCTURED_REPLY, Buffer.alloc(0)));
  if (random() < 0.5)
    parts.push(option(Opt.SET_META_CONTEXT, metaContextData(exportName, [BASE_ALLOCATION])));
  if (random() < 0.2) parts.push(option(Opt.LIST, Buffer.alloc(0)));
  parts.push(
    random() < 0.8
      ? option(Opt.GO, goData(exportName, []))
      : option(Opt.EXPORT_NAME, Buffer.from(exportName)),
  );
  const count = 1 + Math.floor(random() * 12);
  for (let i = 0; i < count; i++) parts.push(request(random, i + 1));
  return Buffer.concat(parts);
}

function mutate(random: () => number, bytes: Buffer): Buffer {
  const choice = Math.floor(random() * 4);
  if (choice === 0) {
    const copy = Buffer.from(bytes);
    for (let n = 1 + Math.floor(random() * 4); n > 0; n--)
      copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
    return copy;
  }
  if (choice === 1) return bytes.subarray(0, Math.floor(random() * bytes.length));
  if (choice === 2) {
    const at = Math.floor(random() * bytes.length);
    const junk = Buffer.from(
      Array.from({ length: 1 + Math.floor(random() * 40) }, () => Math.floor(random() * 256)),
    );
    return Buffer.concat([bytes.subarray(0, at), junk, bytes.subarray(at)]);
  }
  return bytes;
}

// Sends `bytes` in random pieces; ends (or abandons) the socket; resolves with what the server said.
async function play(
  random: () => number,
  bytes: Buffer,
  to: { path: string } | { host: string; port: number } = { path: harness.server.socketPath },
): Promise<{ output: Buffer; abandoned: boolean }> {
  const socket = net.connect(to);
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  for (let at = 0; at < bytes.length;) {
    const step = 1 + Math.floor(random() * 2048);
    socket.write(bytes.subarray(at, at + step));
    at += step;
    if (random() < 0.1) await new Promise((resolve) => setImmediate(resolve));
  }
  const abandoned = random() < 0.2;
  if (abandoned) socket.destroy();
  else socket.end();
  const timer = setTimeout(() => socket.destroy(), 5000);
  await closed;
  clearTimeout(timer);
  return { output: Buffer.concat(received), abandoned };
}

async function digest(id: string): Promise<string> {
  return createHash('sha256')
    .update(await harness.store.read(id, 0, SIZE))
    .digest('hex');
}

test(`fuzzed sessions get answers or hang-ups, never a crash or a stray write (seed ${SEED})`, async () => {
  const random = seededRandom(SEED);
  const volume = newId('vol');
  const guard = newId('vol');
  const snapshot = newId('snap');
  for (const id of [volume, guard]) {
    await harness.store.createVolume(id, SIZE);
    await harness.store.write(id, 0, Buffer.alloc(SIZE, 0x3c));
  }
  await harness.store.snapshot(volume, snapshot);
  const before = { guard: await digest(guard), snapshot: await digest(snapshot) };
  let completed = 0;
  let greeted = 0;
  let answered = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const target = random() < 0.5 ? volume : snapshot;
    const { output, abandoned } = await play(random, mutate(random, session(random, target)));
    if (abandoned) continue;
    completed++;
    if (output.length >= 8 && output.readBigUInt64BE(0) === NBD_MAGIC) greeted++;
    if (output.includes(SIMPLE_MAGIC_BYTES) || output.includes(STRUCTURED_MAGIC_BYTES)) answered++;
  }
  // Most mutations leave the handshake intact, so most sessions must reach transmission and get answers.
  assert.ok(answered > completed / 4, `only ${answered} of ${completed} sessions reached transmission`);
  assert.equal(greeted, completed, `every session we did not abandon was greeted (seed ${SEED})`);
  assert.deepEqual({ guard: await digest(guard), snapshot: await digest(snapshot) }, before, `seed ${SEED}`);
  const { client } = await RawClient.open(harness.server.socketPath, volume);
  client.request(Cmd.FLUSH, 0, 1n, 0, 0);
  assert.equal((await client.readReply()).error, 0, 'the server still serves after the fuzzing');
  client.destroy();
});

// Sends `first`, waits (up to 2 s) for `awaited` from the server, then plays `then` as `play` does.
async function playAfter(
  random: () => number,
  first: Buffer,
  awaited: Buffer,
  then: Buffer,
  to: { host: string; port: number },
): Promise<{ output: Buffer; abandoned: boolean }> {
  const socket = net.connect(to);
  const received: Buffer[] = [];
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const heard = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2000);
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      if (Buffer.concat(received).includes(awaited)) resolve(clearTimeout(timer));
    });
    void closed.then(() => resolve(clearTimeout(timer)));
  });
  socket.write(first);
  await heard;
  for (let at = 0; at < then.length && !socket.destroyed; at += 512)
    socket.write(then.subarray(at, at + 512));
  const abandoned = random() < 0.2;
  if (abandoned) socket.destroy();
  else socket.end();
  const timer = setTimeout(() => socket.destroy(), 5000);
  await closed;
  clearTimeout(timer);
  return { output: Buffer.concat(received), abandoned };
}

// The first flight a real TLS client sends (its ClientHello with a PSK), captured from Node's own client.
async function capturedClientHello(psk: Buffer): Promise<Buffer> {
  const capture = net.createServer();
  await new Promise<void>((resolve) => capture.listen(0, '127.0.0.1', resolve));
  const address = capture.address() as net.AddressInfo;
  const hello = new Promise<Buffer>((resolve) => capture.once('connection', (s) => s.once('data', resolve)));
  const client = tls.connect({
    host: '127.0.0.1',
    port: address.port,
    ciphers: 'TLS_AES_128_GCM_SHA256:PSK-AES128-GCM-SHA256',
    checkServerIdentity: () => undefined,
    pskCallback: () => ({ psk, identity: '111111111111' }),
  });
  client.on('error', () => {});
  const bytes = await hello;
  client.destroy();
  capture.close();
  return bytes;
}

test(`STARTTLS followed by garbage or a mangled ClientHello never crashes a TLS listener (seed ${SEED})`, async () => {
  const random = seededRandom(SEED + 1);
  const psk = Buffer.alloc(32, 0x42);
  const volume = newId('vol');
  await harness.store.createVolume(volume, SIZE);
  await harness.store.write(volume, 0, Buffer.alloc(SIZE, 0x77));
  const before = await digest(volume);
  const server = await startNbdServer({
    store: harness.store,
    socketPath: join(harness.dir, 'fuzz-tls.sock'),
    tcp: {
      host: '127.0.0.1',
      port: 0,
      tls: { pskFor: (id) => (id === '111111111111' ? psk : null), authorize: async () => new Set([volume]) },
    },
  });
  const to = { host: '127.0.0.1', port: server.tcpAddress?.port ?? 0 };
  const hello = await capturedClientHello(psk);
  try {
    let greeted = 0;
    let completed = 0;
    let upgraded = 0;
    const startTlsAck = Buffer.alloc(16);
    startTlsAck.writeBigUInt64BE(OPTION_REPLY_MAGIC, 0);
    startTlsAck.writeUInt32BE(Opt.STARTTLS, 8);
    startTlsAck.writeUInt32BE(Rep.ACK, 12);
    for (let i = 0; i < Math.ceil(ITERATIONS / 3); i++) {
      const flags = Buffer.alloc(4);
      flags.writeUInt32BE(HandshakeFlag.FIXED_NEWSTYLE | HandshakeFlag.NO_ZEROES);
      const parts: Buffer[] = [flags];
      if (random() < 0.3) parts.push(option(Opt.LIST, Buffer.alloc(0)));
      parts.push(option(Opt.STARTTLS, random() < 0.1 ? Buffer.from('junk') : Buffer.alloc(0)));
      const plaintext = Buffer.concat(parts);
      parts.length = 0;
      const junk = Buffer.from(
        Array.from({ length: Math.floor(random() * 600) }, () => Math.floor(random() * 256)),
      );
      parts.push(random() < 0.6 ? mutate(random, hello) : junk);
      if (random() < 0.3) parts.push(option(Opt.GO, goData(volume, [])));
      const { output, abandoned } = await playAfter(
        random,
        plaintext,
        startTlsAck.subarray(0, 12),
        Buffer.concat(parts),
        to,
      );
      if (abandoned) continue;
      completed++;
      if (output.length >= 8 && output.readBigUInt64BE(0) === NBD_MAGIC) greeted++;
      if (output.includes(startTlsAck)) upgraded++;
    }
    assert.equal(greeted, completed, `every session we did not abandon was greeted (seed ${SEED})`);
    // Most sessions send a well-formed STARTTLS, so most must reach the TLS handshake with their garbage.
    assert.ok(
      upgraded > completed / 2,
      `only ${upgraded} of ${completed} sessions got STARTTLS acknowledged`,
    );
    assert.equal(server.connectionCount(), 0, 'no garbage session reached transmission');
    assert.equal(await digest(volume), before, `seed ${SEED}`);
    const pskFile = await writePskFile(join(harness.dir, 'fuzz-psk'), '111111111111', psk);
    const uri = `nbds://111111111111@127.0.0.1:${to.port}/${volume}?tls-psk-file=${pskFile}`;
    assert.match(await run('nbdinfo', ['--size', uri]), new RegExp(`^${SIZE}$`, 'm'), 'still serves TLS');
  } finally {
    await server.close();
  }
});
