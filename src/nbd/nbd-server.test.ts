// Protocol conformance at the byte level: handshake answers, command errors, pipelining, locks, removal.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { newId } from '../base/ids.ts';
import { limits } from '../base/limits.ts';
import { seededRandom } from '../base/prng.ts';
import { nbdUri } from './nbd-server.ts';
import {
  BASE_ALLOCATION,
  Cmd,
  CmdFlag,
  HandshakeFlag,
  Info,
  NbdErrno,
  Opt,
  Rep,
  ReplyType,
  TransmissionFlag,
} from './protocol.ts';
import { RawClient, goData, metaContextData } from './testing/raw-client.ts';
import { startHarness } from './testing/harness.ts';
import type { Harness } from './testing/harness.ts';

const MiB = 1024 * 1024;
let harness: Harness;
let socketPath: string;

before(async () => {
  harness = await startHarness('pool');
  socketPath = harness.server.socketPath;
});
after(async () => harness.close());

async function volume(sizeBytes = 4 * MiB): Promise<string> {
  const id = newId('vol');
  await harness.store.createVolume(id, sizeBytes);
  return id;
}

async function negotiatingClient(): Promise<RawClient> {
  const { client, handshakeFlags } = await RawClient.connect(socketPath);
  assert.equal(handshakeFlags, HandshakeFlag.FIXED_NEWSTYLE | HandshakeFlag.NO_ZEROES);
  client.sendClientFlags(HandshakeFlag.FIXED_NEWSTYLE | HandshakeFlag.NO_ZEROES);
  return client;
}

test('nbdUri builds unix and tcp URIs', () => {
  assert.equal(nbdUri('vol-1', { socketPath: '/d/nbd.sock' }), 'nbd+unix:///vol-1?socket=/d/nbd.sock');
  assert.equal(nbdUri('snap-2', { host: '127.0.0.1', port: 10809 }), 'nbd://127.0.0.1:10809/snap-2');
  assert.equal(nbdUri('vol-3', { host: '::1', port: 1 }), 'nbd://[::1]:1/vol-3');
});

test('option haggling: STARTTLS, unknown options, INFO items, meta contexts, unknown exports', async () => {
  const id = await volume();
  const client = await negotiatingClient();
  client.sendOption(Opt.STARTTLS, Buffer.alloc(0));
  assert.equal((await client.readOptionReply()).type, Rep.ERR_UNSUP);
  client.sendOption(99, Buffer.from('junk'));
  assert.equal((await client.readOptionReply()).type, Rep.ERR_UNSUP);
  client.sendOption(Opt.SET_META_CONTEXT, metaContextData(id, [BASE_ALLOCATION]));
  assert.equal(
    (await client.readOptionReply()).type,
    Rep.ERR_INVALID,
    'SET_META_CONTEXT before STRUCTURED_REPLY',
  );
  client.sendOption(Opt.LIST_META_CONTEXT, metaContextData(id, []));
  const context = await client.readOptionReply();
  assert.equal(context.type, Rep.META_CONTEXT);
  assert.equal(context.data.toString('utf8', 4), BASE_ALLOCATION);
  assert.equal((await client.readOptionReply()).type, Rep.ACK);
  client.sendOption(Opt.INFO, goData(id, [Info.NAME, Info.DESCRIPTION, Info.BLOCK_SIZE]));
  const infos = new Map<number, Buffer>();
  for (
    let reply = await client.readOptionReply();
    reply.type !== Rep.ACK;
    reply = await client.readOptionReply()
  ) {
    assert.equal(reply.type, Rep.INFO);
    infos.set(reply.data.readUInt16BE(0), reply.data);
  }
  assert.equal(Number(infos.get(Info.EXPORT)?.readBigUInt64BE(2)), 4 * MiB);
  assert.equal(infos.get(Info.NAME)?.toString('utf8', 2), id);
  assert.match(infos.get(Info.DESCRIPTION)?.toString('utf8', 2) ?? '', /volume/);
  assert.equal(infos.get(Info.BLOCK_SIZE)?.readUInt32BE(10), limits.nbdPayloadBytesMax);
  client.sendOption(Opt.GO, goData('vol-doesnotexist', []));
  const unknown = await client.readOptionReply();
  assert.equal(unknown.type, Rep.ERR_UNKNOWN);
  assert.match(unknown.data.toString(), /no volume or snapshot/);
  client.sendOption(Opt.GO, Buffer.from([0, 0, 0, 9, 1]));
  assert.equal((await client.readOptionReply()).type, Rep.ERR_INVALID, 'truncated GO data');
  client.sendOption(Opt.ABORT, Buffer.alloc(0));
  assert.equal((await client.readOptionReply()).type, Rep.ACK);
  await client.closed;
});

test('NBD_OPT_EXPORT_NAME: unknown names hang up, known ones answer with padding unless NO_ZEROES', async () => {
  const id = await volume();
  const bad = await negotiatingClient();
  bad.sendOption(Opt.EXPORT_NAME, Buffer.from('vol-nope'));
  await bad.closed;
  const { client } = await RawClient.connect(socketPath);
  client.sendClientFlags(HandshakeFlag.FIXED_NEWSTYLE);
  client.sendOption(Opt.EXPORT_NAME, Buffer.from(id));
  const answer = await client.reader.read(10 + 124);
  assert.equal(Number(answer.readBigUInt64BE(0)), 4 * MiB);
  assert.ok(answer.subarray(10).every((b) => b === 0));
  client.request(Cmd.FLUSH, 0, 7n, 0, 0);
  assert.deepEqual(await client.readReply().then((r) => [r.cookie, r.error]), [7n, 0]);
  client.destroy();
});

test('commands: bounds, read-only, oversize writes, unknown commands, FAST_ZERO, DISC', async () => {
  const id = await volume();
  const snap = newId('snap');
  await harness.store.snapshot(id, snap);
  const ro = await RawClient.open(socketPath, snap);
  assert.ok((ro.transmissionFlags & TransmissionFlag.READ_ONLY) !== 0);
  ro.client.request(Cmd.WRITE, 0, 1n, 0, 4096, Buffer.alloc(4096, 1));
  ro.client.request(Cmd.READ, 0, 2n, 0, 4096);
  const replies = [await ro.client.readReply(), await ro.client.readReply()].sort((a, b) =>
    Number(a.cookie - b.cookie),
  );
  assert.equal(replies[0]?.error, NbdErrno.EPERM);
  assert.equal(replies[1]?.error, 0, 'the rejected payload was skipped, the next request parsed');
  ro.client.destroy();

  const { client } = await RawClient.open(socketPath, id);
  const expect = async (errno: number): Promise<void> =>
    assert.equal((await client.readReply()).error, errno);
  client.request(Cmd.READ, 0, 3n, 4 * MiB - 512, 1024);
  await expect(NbdErrno.EINVAL);
  client.request(Cmd.WRITE, 0, 4n, 4 * MiB, 512, Buffer.alloc(512));
  await expect(NbdErrno.ENOSPC);
  client.request(
    Cmd.WRITE,
    0,
    5n,
    0,
    limits.nbdPayloadBytesMax + 1,
    Buffer.alloc(limits.nbdPayloadBytesMax + 1, 9),
  );
  await expect(NbdErrno.EINVAL);
  client.request(42, 0, 6n, 0, 0);
  await expect(NbdErrno.EINVAL);
  client.request(Cmd.WRITE_ZEROES, CmdFlag.NO_HOLE | CmdFlag.FAST_ZERO, 7n, 0, 4096);
  await expect(NbdErrno.ENOTSUP);
  client.request(Cmd.BLOCK_STATUS, 0, 8n, 0, 4096);
  await expect(NbdErrno.EINVAL);
  client.request(Cmd.WRITE, CmdFlag.FUA, 9n, 0, 4, Buffer.from([1, 2, 3, 4]));
  client.request(Cmd.CACHE, 0, 10n, 0, 4096);
  client.request(Cmd.DISC, 0, 11n, 0, 0);
  await expect(0);
  await expect(0);
  await client.closed;
  assert.deepEqual(
    [...(await harness.store.read(id, 0, 4))],
    [1, 2, 3, 4],
    'nothing of the bad requests was written',
  );
});

test('structured replies: holes, data, block status and pipelined requests', async () => {
  const id = await volume(8 * MiB);
  await harness.store.write(id, MiB, Buffer.alloc(64 * 1024, 0xee));
  const { client } = await RawClient.open(socketPath, id, { structured: true, allocation: true });
  client.request(Cmd.READ, 0, 1n, 0, 64 * 1024);
  const hole = await client.readReply();
  assert.deepEqual([hole.type, hole.data.readUInt32BE(8)], [ReplyType.OFFSET_HOLE, 64 * 1024]);
  client.request(Cmd.READ, 0, 3n, 0, 2 * MiB);
  const chunks = [];
  for (let done = false; !done;) {
    const chunk = await client.readReply();
    const offset = Number(chunk.data.readBigUInt64BE(0));
    const length = chunk.type === ReplyType.OFFSET_HOLE ? chunk.data.readUInt32BE(8) : chunk.data.length - 8;
    chunks.push([chunk.type, offset, length]);
    done = (chunk.flags & 1) !== 0;
  }
  const { OFFSET_HOLE, OFFSET_DATA } = ReplyType;
  const expected = [
    [OFFSET_HOLE, 0, MiB],
    [OFFSET_DATA, MiB, 65536],
    [OFFSET_HOLE, MiB + 65536, MiB - 65536],
  ];
  assert.deepEqual(chunks, expected);
  client.request(Cmd.BLOCK_STATUS, 0, 2n, 0, 2 * MiB);
  const status = await client.readReply();
  assert.equal(status.type, ReplyType.BLOCK_STATUS);
  const extents = [];
  for (let at = 4; at < status.data.length; at += 8)
    extents.push([status.data.readUInt32BE(at), status.data.readUInt32BE(at + 4)]);
  assert.deepEqual(extents, [
    [MiB, 3],
    [64 * 1024, 0],
    [MiB - 64 * 1024, 3],
  ]);
  const depth = 200;
  for (let i = 0; i < depth; i++) {
    if (i % 2) client.request(Cmd.READ, 0, BigInt(1000 + i), MiB, 4096);
    else
      client.request(Cmd.WRITE, 0, BigInt(1000 + i), 2 * MiB + i * 4096, 4096, Buffer.alloc(4096, i & 0xff));
  }
  const seen = new Set<bigint>();
  while (seen.size < depth) {
    const reply = await client.readReply();
    assert.equal(reply.error, 0);
    if (reply.type === ReplyType.OFFSET_DATA) assert.ok(reply.data.subarray(8).every((b) => b === 0xee));
    seen.add(reply.cookie);
  }
  assert.equal((await harness.store.read(id, 2 * MiB + 6 * 4096, 4096))[0], 6);
  client.destroy();
});

test('a vanished client leaves no partial write; a deleted volume ends its connections; locks stop plain ones', async () => {
  const id = await volume();
  const first = await RawClient.open(socketPath, id);
  first.client.request(Cmd.WRITE, 0, 1n, 0, 65536, Buffer.alloc(1000, 0x66));
  await new Promise((resolve) => setTimeout(resolve, 50));
  first.client.destroy();
  const second = await RawClient.open(socketPath, id);
  second.client.request(Cmd.READ, 0, 2n, 0, 1000);
  assert.ok(
    (await second.client.readReply()).data.every((b) => b === 0),
    'short payload never reached the store',
  );
  harness.server.lockForAttachment(id, 'instance i-00000000000000001');
  await second.client.closed;
  harness.server.unlock(id);
  const third = await RawClient.open(socketPath, id);
  assert.equal(harness.server.connectionCount(id), 1);
  await harness.store.deleteVolume(id);
  await third.client.closed;
  for (let waited = 0; harness.server.connectionCount(id) > 0 && waited < 2000; waited += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(harness.server.connectionCount(id), 0);
});

test('a bad request magic closes the connection and the server keeps serving', async () => {
  const id = await volume();
  const { client } = await RawClient.open(socketPath, id);
  client.socket.write(Buffer.alloc(28, 0xff));
  await client.closed;
  const again = await RawClient.open(socketPath, id);
  again.client.request(Cmd.FLUSH, 0, 1n, 0, 0);
  assert.equal((await again.client.readReply()).error, 0);
  again.client.destroy();
});

test('reads longer than the advertised maximum are refused, not buffered', async () => {
  const id = await volume(64 * MiB);
  const { client } = await RawClient.open(socketPath, id, { structured: true });
  client.request(Cmd.READ, 0, 1n, 0, limits.nbdPayloadBytesMax + 512);
  const refused = await client.readReply();
  assert.deepEqual([refused.type, refused.error], [ReplyType.ERROR, NbdErrno.EINVAL]);
  client.request(Cmd.READ, 0, 2n, 0, limits.nbdPayloadBytesMax);
  const hole = await client.readReply();
  assert.deepEqual(
    [hole.type, hole.data.readUInt32BE(8)],
    [ReplyType.OFFSET_HOLE, limits.nbdPayloadBytesMax],
  );
  client.destroy();
});

test('pipelined writes of every size through the reused read buffer land intact, past a full queue', async () => {
  const id = await volume(8 * MiB);
  const { client } = await RawClient.open(socketPath, id);
  // The fast path must engage on the Node version we support, or writes are slow again without a sign.
  assert.equal(harness.server.reusedReadBufferCount(), harness.server.connectionCount());
  const model = Buffer.alloc(8 * MiB);
  const random = seededRandom(7);
  // Small writes: one socket read holds hundreds, past the queue limit, so the rest wait in the stash. Every
  // few a large one spans many socket reads. Writes in flight have no order, so their ranges never overlap.
  const count = limits.nbdQueueDepthMax * 3;
  let cursor = 0;
  for (let i = 0; i < count; i++) {
    const length = 1 + Math.floor(random() * (i % 50 === 0 ? 512 * 1024 : 2048));
    const offset = cursor + Math.floor(random() * 512);
    cursor = offset + length;
    const data = Buffer.alloc(length, i & 0xff);
    data.writeUInt8(i >> 8, 0);
    data.copy(model, offset);
    client.request(Cmd.WRITE, 0, BigInt(i), offset, length, data);
  }
  assert.ok(cursor <= model.length, 'the writes fit the volume');
  for (let seen = 0; seen < count; seen++) assert.equal((await client.readReply()).error, 0);
  client.request(Cmd.READ, 0, BigInt(count), 0, 8 * MiB);
  const read = await client.readReply();
  assert.ok(read.data.equals(model), 'volume matches the model after pipelined writes');
  client.destroy();
});

test('pipelined reads through recycled reply buffers each carry their own bytes, simple and structured', async () => {
  const id = await volume(8 * MiB);
  const model = Buffer.alloc(8 * MiB);
  const random = seededRandom(11);
  for (let block = 0; block < model.length / 4096; block++) {
    if (block % 7 === 3) continue; // holes, so structured replies mix data and hole chunks
    const bytes = Buffer.alloc(4096, block & 0xff);
    bytes.writeUInt16BE(block, 0);
    bytes.copy(model, block * 4096);
  }
  await harness.store.write(id, 0, model);
  for (const structured of [false, true]) {
    const { client } = await RawClient.open(socketPath, id, structured ? { structured: true } : {});
    // Few distinct lengths, many requests: the same buffers go round many times while replies are in flight.
    const lengths = [4096, 65536, 512 * 1024];
    const asked = new Map<bigint, { offset: number; length: number }>();
    for (let i = 0; i < 300; i++) {
      const length = lengths[i % lengths.length]!;
      const offset = Math.floor(random() * ((model.length - length) / 512)) * 512;
      asked.set(BigInt(i), { offset, length });
      client.request(Cmd.READ, 0, BigInt(i), offset, length);
    }
    const got = new Map<bigint, Buffer>();
    for (const [cookie, { length }] of asked) got.set(cookie, Buffer.alloc(length, 0x5a));
    let done = 0;
    while (done < asked.size) {
      const reply = await client.readReply();
      assert.equal(reply.error, 0);
      const { offset } = asked.get(reply.cookie)!;
      const out = got.get(reply.cookie)!;
      if (!structured) {
        reply.data.copy(out);
        done++;
        continue;
      }
      const at = Number(reply.data.readBigUInt64BE(0)) - offset;
      if (reply.type === ReplyType.OFFSET_HOLE) out.fill(0, at, at + reply.data.readUInt32BE(8));
      else reply.data.subarray(8).copy(out, at);
      if ((reply.flags & 1) !== 0) done++;
    }
    for (const [cookie, { offset, length }] of asked) {
      assert.ok(
        got.get(cookie)!.equals(model.subarray(offset, offset + length)),
        `read ${cookie} (${structured})`,
      );
    }
    client.destroy();
  }
});
