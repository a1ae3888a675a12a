// Fuzz: valid sessions, mutated (bit flips, truncation, junk), sent in random splits, sometimes abandoned.
// The server must answer or hang up, never crash, never change what the session could not write.
// STRATA_NBD_FUZZ_ITERATIONS raises the count; STRATA_NBD_FUZZ_SEED replays a run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/prng.ts';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { newId } from '../base/ids.ts';
import { BASE_ALLOCATION, Cmd, HandshakeFlag, IHAVEOPT, NBD_MAGIC, Opt, REQUEST_MAGIC } from './protocol.ts';
import { RawClient, goData, metaContextData } from './testing/raw-client.ts';
import { startHarness } from './testing/harness.ts';
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
async function play(random: () => number, bytes: Buffer): Promise<{ output: Buffer; abandoned: boolean }> {
  const socket = net.connect({ path: harness.server.socketPath });
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
