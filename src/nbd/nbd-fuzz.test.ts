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
import { Cmd, HandshakeFlag, NBD_MAGIC, OPTION_REPLY_MAGIC, Opt, Rep } from './protocol.ts';
import { RawClient, goData } from './testing/raw-client.ts';
import {
  STRUCTURED_MAGIC_BYTES,
  SIMPLE_MAGIC_BYTES,
  hangUp,
  mutate,
  option,
  play,
  session,
} from './testing/fuzz-sessions.ts';
import { run, startHarness } from './testing/harness.ts';
import { startNbdServer } from './start-nbd-server.ts';
import { writePskFile } from './testing/tls-fixtures.ts';
import type { Harness } from './testing/harness.ts';

const ITERATIONS = Number(process.env.STRATA_NBD_FUZZ_ITERATIONS ?? 150);
const SEED = Number(process.env.STRATA_NBD_FUZZ_SEED ?? Date.now() % 2 ** 31);
const SIZE = 1024 * 1024;
let harness: Harness;

before(async () => {
  harness = await startHarness('pool');
});
after(async () => harness.close());

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
    const { output, abandoned } = await play(
      harness.server.socketPath,
      random,
      mutate(random, session(random, target, SIZE)),
    );
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
  return hangUp(random, socket, closed, received);
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
