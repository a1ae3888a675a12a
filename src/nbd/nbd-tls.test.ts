// NBD over TLS with real clients (nbdinfo, nbdcopy, qemu-img): TLS required, PSK and x509 identities, each
// identity seeing and opening only what the authoriser grants it, data intact both ways.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { newId } from '../base/ids.ts';
import { NbdConfigError } from './nbd-server.ts';
import { startNbdServer } from './start-nbd-server.ts';
import { isLoopbackHost } from './nbd-tls.ts';
import type { NbdServer } from './nbd-server.ts';
import { once } from 'node:events';
import tls from 'node:tls';
import { ByteReader } from './byte-reader.ts';
import { HandshakeFlag, IHAVEOPT, Opt, Rep } from './protocol.ts';
import { RawClient, goData } from './testing/raw-client.ts';
import { run, startHarness } from './testing/harness.ts';
import type { Harness } from './testing/harness.ts';
import { issue, makeCa, writePskFile } from './testing/tls-fixtures.ts';

const MiB = 1024 * 1024;
const ALICE = '111111111111';
const BOB = '222222222222';
// An identity whose authorisation lookup fails, as when the database is away.
const UNLUCKY = '333333333333';
const keys = new Map([
  [ALICE, randomBytes(32)],
  [BOB, randomBytes(32)],
  [UNLUCKY, randomBytes(32)],
]);
const granted = new Map<string, Set<string>>([
  [ALICE, new Set()],
  [BOB, new Set()],
]);
let harness: Harness;
let server: NbdServer;
let port: number;
let certDir: string;

before(async () => {
  harness = await startHarness();
  const ca = await makeCa(join(harness.dir, 'ca'), 'strata-test-ca');
  certDir = join(harness.dir, 'server-certs');
  await issue(ca, certDir, 'server', '127.0.0.1');
  await issue(ca, join(harness.dir, 'alice-certs'), 'client', ALICE);
  const read = (name: string): Promise<string> => readFile(join(certDir, name), 'utf8');
  server = await startNbdServer({
    store: harness.store,
    socketPath: join(harness.dir, 'tls.sock'),
    tcp: {
      host: '127.0.0.1',
      port: 0,
      tls: {
        pskFor: (identity) => keys.get(identity) ?? null,
        x509: {
          ca: await read('ca-cert.pem'),
          cert: await read('server-cert.pem'),
          key: await read('server-key.pem'),
        },
        authorize: async (identity) => {
          if (identity === UNLUCKY) throw new Error('the database is away');
          return granted.get(identity) ?? new Set();
        },
      },
    },
  });
  port = server.tcpAddress?.port ?? 0;
  assert.ok(port > 0);
});
after(async () => {
  await server.close();
  await harness.close();
});

async function resource(owner: string, kind: 'vol' | 'snap', sizeBytes = 4 * MiB): Promise<string> {
  const id = newId(kind);
  if (kind === 'vol') {
    await harness.store.createVolume(id, sizeBytes);
  } else {
    const origin = newId('vol');
    await harness.store.createVolume(origin, sizeBytes);
    await harness.store.write(origin, 0, Buffer.alloc(MiB, 0x5e));
    await harness.store.snapshot(origin, id);
  }
  granted.get(owner)?.add(id);
  return id;
}

async function pskFile(identity: string, key = keys.get(identity)): Promise<string> {
  assert.ok(key);
  return writePskFile(join(harness.dir, `psk-${identity}-${key.toString('hex').slice(0, 8)}`), identity, key);
}

function pskUri(identity: string, file: string, name: string): string {
  return `nbds://${identity}@127.0.0.1:${port}/${name}?tls-psk-file=${file}`;
}

// qemu-img's --object and --image-opts for an export over TLS with PSK credentials in `dir`.
function qemuPskArgs(identity: string, dir: string, name: string): string[] {
  return [
    '--object',
    `tls-creds-psk,id=tls0,dir=${dir},username=${identity},endpoint=client`,
    '--image-opts',
    `driver=nbd,host=127.0.0.1,port=${port},export=${name},tls-creds=tls0`,
  ];
}

async function fails(command: string, args: string[]): Promise<string> {
  const error = await run(command, args, 30_000).then(
    () => null,
    (failure: Error) => failure,
  );
  assert.ok(error, `${command} ${args.join(' ')} should have failed`);
  return error.message;
}

async function listed(uri: string): Promise<string[]> {
  const listing = JSON.parse(await run('nbdinfo', ['--json', '--list', uri])) as {
    exports: { 'export-name': string }[];
  };
  return listing.exports.map((entry) => entry['export-name']).sort();
}

test('a plain client is told TLS is required; EXPORT_NAME before STARTTLS is hung up on', async () => {
  const id = await resource(ALICE, 'vol');
  assert.match(await fails('nbdinfo', ['--size', `nbd://127.0.0.1:${port}/${id}`]), /requires TLS/);
  const { client } = await RawClient.connect({ host: '127.0.0.1', port });
  client.sendClientFlags(HandshakeFlag.FIXED_NEWSTYLE | HandshakeFlag.NO_ZEROES);
  for (const option of [Opt.LIST, Opt.GO, Opt.INFO, Opt.STRUCTURED_REPLY, 999]) {
    client.sendOption(option, option === Opt.GO || option === Opt.INFO ? goData(id, []) : Buffer.alloc(0));
    const reply = await client.readOptionReply();
    assert.equal(reply.type, Rep.ERR_TLS_REQD, `option ${option} before TLS`);
  }
  client.sendOption(Opt.STARTTLS, Buffer.from('x'));
  assert.equal((await client.readOptionReply()).type, Rep.ERR_INVALID, 'STARTTLS with data');
  client.sendOption(Opt.EXPORT_NAME, Buffer.from(id));
  await client.closed;
  assert.equal(server.connectionCount(id), 0);
});

test('after STARTTLS a second STARTTLS is invalid, and LIST and INFO answer for the identity only', async () => {
  const own = await resource(ALICE, 'vol');
  const other = await resource(BOB, 'vol');
  const { client } = await RawClient.connect({ host: '127.0.0.1', port });
  client.sendClientFlags(HandshakeFlag.FIXED_NEWSTYLE | HandshakeFlag.NO_ZEROES);
  client.sendOption(Opt.STARTTLS, Buffer.alloc(0));
  assert.equal((await client.readOptionReply()).type, Rep.ACK);
  client.reader.detach();
  const secure = tls.connect({
    socket: client.socket,
    ciphers: 'TLS_AES_128_GCM_SHA256',
    checkServerIdentity: () => undefined,
    pskCallback: () => ({ psk: keys.get(ALICE) ?? Buffer.alloc(0), identity: ALICE }),
  });
  await once(secure, 'secureConnect');
  const reader = new ByteReader(secure);
  const send = (option: number, data: Buffer): void => {
    const header = Buffer.alloc(16);
    header.writeBigUInt64BE(IHAVEOPT, 0);
    header.writeUInt32BE(option, 8);
    header.writeUInt32BE(data.length, 12);
    secure.write(Buffer.concat([header, data]));
  };
  const replyType = async (): Promise<{ type: number; data: Buffer }> => {
    const header = await reader.read(20);
    return { type: header.readUInt32BE(12), data: await reader.read(header.readUInt32BE(16)) };
  };
  send(Opt.STARTTLS, Buffer.alloc(0));
  assert.equal((await replyType()).type, Rep.ERR_INVALID, 'STARTTLS twice');
  send(Opt.LIST, Buffer.alloc(0));
  const names: string[] = [];
  for (let reply = await replyType(); reply.type !== Rep.ACK; reply = await replyType()) {
    assert.equal(reply.type, Rep.SERVER);
    names.push(reply.data.toString('utf8', 4, 4 + reply.data.readUInt32BE(0)));
  }
  assert.deepEqual(names.sort(), [...(granted.get(ALICE) ?? [])].sort());
  assert.ok(names.includes(own) && !names.includes(other));
  send(Opt.INFO, goData(other, []));
  const refusedInfo = await replyType();
  assert.equal(refusedInfo.type, Rep.ERR_UNKNOWN, "another account's volume reads as missing");
  assert.match(refusedInfo.data.toString(), /no volume or snapshot named/);
  send(Opt.ABORT, Buffer.alloc(0));
  assert.equal((await replyType()).type, Rep.ACK);
  secure.destroy();
});

test('a wrong PSK, an unknown identity and a certificate from another CA are refused', async () => {
  const id = await resource(ALICE, 'vol');
  const wrong = await pskFile(ALICE, randomBytes(32));
  assert.match(await fails('nbdinfo', ['--size', pskUri(ALICE, wrong, id)]), /handshake|TLS|alert/i);
  const stranger = await pskFile('999999999999', randomBytes(32));
  assert.match(
    await fails('nbdinfo', ['--size', pskUri('999999999999', stranger, id)]),
    /TLS|alert|handshake/i,
  );
  const wrongDir = join(wrong, '..');
  await fails('qemu-img', ['info', ...qemuPskArgs(ALICE, wrongDir, id)]);
  const rogue = await makeCa(join(harness.dir, 'rogue-ca'), 'rogue');
  const rogueDir = join(harness.dir, 'rogue-client');
  await issue(rogue, rogueDir, 'client', ALICE);
  // The client trusts our server (its CA file is ours); only its own certificate is foreign.
  await writeFile(join(rogueDir, 'ca-cert.pem'), await readFile(join(certDir, 'ca-cert.pem')));
  const uri = `nbds://127.0.0.1:${port}/${id}?tls-certificates=${rogueDir}`;
  await fails('nbdinfo', ['--size', uri]);
  assert.equal(server.connectionCount(id), 0);
});

test('each identity lists only its own exports and cannot open the others', async () => {
  const aliceVolume = await resource(ALICE, 'vol');
  const aliceSnapshot = await resource(ALICE, 'snap');
  const bobVolume = await resource(BOB, 'vol');
  const alice = await pskFile(ALICE);
  const bob = await pskFile(BOB);
  assert.deepEqual(await listed(pskUri(ALICE, alice, '')), [...(granted.get(ALICE) ?? [])].sort());
  assert.deepEqual(await listed(pskUri(BOB, bob, '')), [...(granted.get(BOB) ?? [])].sort());
  assert.ok((await listed(pskUri(ALICE, alice, ''))).includes(aliceSnapshot));
  assert.ok(!(await listed(pskUri(ALICE, alice, ''))).includes(bobVolume));
  // The unix socket is trusted: it still lists everything.
  const all = await listed(server.uri(''));
  assert.ok(all.includes(aliceVolume) && all.includes(bobVolume));

  assert.match(await fails('nbdinfo', ['--size', pskUri(ALICE, alice, bobVolume)]), /no export/);
  assert.match(
    await fails('qemu-img', ['info', ...qemuPskArgs(ALICE, join(alice, '..'), bobVolume)]),
    /no export|not/i,
  );
  assert.match(await run('nbdinfo', ['--size', pskUri(BOB, bob, bobVolume)]), /^4194304$/m);
});

test('data round-trips over TLS: qemu-img writes with PSK, nbdcopy reads back, x509 reads the same', async () => {
  const id = await resource(ALICE, 'vol', 8 * MiB);
  const source = join(harness.dir, 'source.raw');
  const data = randomBytes(8 * MiB);
  data.fill(0, 2 * MiB, 5 * MiB); // a hole, to check sparse reads too
  await writeFile(source, data);
  const alice = await pskFile(ALICE);
  await run('qemu-img', [
    'convert',
    '-n',
    '-f',
    'raw',
    source,
    '--object',
    `tls-creds-psk,id=tls0,dir=${join(alice, '..')},username=${ALICE},endpoint=client`,
    '--target-image-opts',
    `driver=nbd,host=127.0.0.1,port=${port},export=${id},tls-creds=tls0`,
  ]);
  assert.ok((await harness.store.read(id, 0, 8 * MiB)).equals(data), 'the pool holds what qemu-img sent');
  const copy = join(harness.dir, 'copy.raw');
  await run('nbdcopy', [pskUri(ALICE, alice, id), copy]);
  assert.ok((await readFile(copy)).equals(data), 'nbdcopy over TLS reads back the same bytes');

  const x509Uri = `nbds://127.0.0.1:${port}/${id}?tls-certificates=${join(harness.dir, 'alice-certs')}`;
  const viaCertificate = join(harness.dir, 'copy-x509.raw');
  await run('nbdcopy', [x509Uri, viaCertificate]);
  assert.ok((await readFile(viaCertificate)).equals(data), 'x509 identity reads the same bytes');
  assert.deepEqual(await listed(x509Uri.replace(`/${id}?`, '/?')), [...(granted.get(ALICE) ?? [])].sort());
  const qemuX509 = [
    '--object',
    `tls-creds-x509,id=tls0,dir=${join(harness.dir, 'alice-certs')},endpoint=client`,
    '--image-opts',
    `driver=nbd,host=127.0.0.1,port=${port},export=${id},tls-creds=tls0`,
  ];
  assert.match(await run('qemu-img', ['info', ...qemuX509]), /virtual size: 8 MiB/);
});

test('a failed authorisation lookup ends that handshake only; the server keeps serving', async () => {
  const id = await resource(ALICE, 'vol');
  await fails('nbdinfo', ['--list', pskUri(UNLUCKY, await pskFile(UNLUCKY), '')]);
  assert.match(await run('nbdinfo', ['--size', pskUri(ALICE, await pskFile(ALICE), id)]), /^4194304$/m);
});

test('plain TCP is refused off loopback; loopback addresses are recognised', async () => {
  await assert.rejects(
    startNbdServer({
      store: harness.store,
      socketPath: join(harness.dir, 'refused.sock'),
      tcp: { host: '0.0.0.0', port: 0 },
    }),
    NbdConfigError,
  );
  for (const host of ['127.0.0.1', '127.9.8.7', '::1', 'localhost', '::ffff:127.0.0.1'])
    assert.ok(isLoopbackHost(host), host);
  for (const host of ['0.0.0.0', '::', '192.0.2.1', 'example.com', '::ffff:192.0.2.1', '128.0.0.1'])
    assert.ok(!isLoopbackHost(host), host);
});
