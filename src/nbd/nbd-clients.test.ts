// Real NBD clients (nbdinfo, qemu-img, qemu-io, nbdcopy, fio) against the server over the block store.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { newId } from '../base/ids.ts';
import { Command } from 'commander';
import { registerNbdUri } from '../cli/nbd-uri.ts';
import { startNbdServer } from './start-nbd-server.ts';
import { startHarness, run } from './testing/harness.ts';
import type { Harness } from './testing/harness.ts';

const MiB = 1024 * 1024;
let harness: Harness;

before(async () => {
  harness = await startHarness();
  console.log(`# nbd client tests run on the ${harness.storeKind} store`);
});
after(async () => harness.close());

async function volume(sizeBytes = 64 * MiB): Promise<string> {
  const id = newId('vol');
  await harness.store.createVolume(id, sizeBytes);
  return id;
}

test('nbdinfo --list shows volumes read-write and snapshots read-only; --map follows the allocation', async () => {
  const id = await volume();
  await harness.store.write(id, 4 * MiB, Buffer.alloc(MiB, 0x5a));
  const snap = newId('snap');
  await harness.store.snapshot(id, snap);
  const listing = JSON.parse(await run('nbdinfo', ['--json', '--list', harness.server.uri('')])) as {
    exports: { 'export-name': string; is_read_only: boolean; 'export-size': number; description: string }[];
  };
  const vol = listing.exports.find((e) => e['export-name'] === id);
  const sn = listing.exports.find((e) => e['export-name'] === snap);
  assert.equal(vol?.is_read_only, false);
  assert.equal(vol?.['export-size'], 64 * MiB);
  assert.equal(sn?.is_read_only, true);
  assert.match(sn?.description ?? '', new RegExp(`snapshot of ${id}`));
  const map = JSON.parse(await run('nbdinfo', ['--json', '--map', harness.server.uri(snap)])) as {
    offset: number;
    length: number;
    type: number;
  }[];
  const expected = harness.store.mapRange(snap, 0, 64 * MiB);
  assert.deepEqual(
    map.map((m) => ({ offset: m.offset, length: m.length, allocated: m.type === 0 })),
    expected.map((r) => ({ offset: r.offset, length: r.length, allocated: r.allocated })),
  );
  assert.ok(map.some((m) => m.type === 0) && map.some((m) => m.type === 3), 'map has data and holes');
});

test('qemu-io writes and reads a pattern; snapshot exports refuse writes', async () => {
  const id = await volume();
  const uri = harness.server.uri(id);
  await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0xab 0 1M', '-c', 'read -P 0xab 0 1M', uri]);
  assert.ok((await harness.store.read(id, 0, MiB)).every((b) => b === 0xab));
  const snap = newId('snap');
  await harness.store.snapshot(id, snap);
  await assert.rejects(
    run('qemu-io', ['-f', 'raw', '-c', 'write -P 0xcd 0 4k', harness.server.uri(snap)]),
    /read-only|Permission denied/i,
  );
  await run('qemu-io', ['-r', '-f', 'raw', '-c', 'read -P 0xab 0 1M', harness.server.uri(snap)]);
});

test('qemu-img info, convert in and out, compare', async () => {
  const id = await volume(32 * MiB);
  const uri = harness.server.uri(id);
  const source = join(harness.dir, 'source.raw');
  await run('qemu-img', ['create', '-f', 'raw', source, '32M']);
  await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x31 1M 3M', '-c', 'write -P 0x32 20M 512k', source]);
  const info = JSON.parse(await run('qemu-img', ['info', '--output=json', uri])) as {
    'virtual-size': number;
  };
  assert.equal(info['virtual-size'], 32 * MiB);
  await run('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', source, uri]);
  await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', source, uri]);
  const out = join(harness.dir, 'out.qcow2');
  await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', uri, out]);
  await run('qemu-img', ['compare', '-f', 'qcow2', '-F', 'raw', out, source]);
  assert.equal(harness.store.mapRange(id, 0, MiB)[0]?.allocated, false, 'leading zeros stay a hole');
});

test('nbdcopy copies in and out and keeps sparseness', async () => {
  const id = await volume();
  const source = join(harness.dir, 'sparse-in.raw');
  await writeFile(source, '');
  await run('truncate', ['-s', '64M', source]);
  await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x77 8M 1M', '-c', 'write -P 0x78 40M 2M', source]);
  await run('nbdcopy', [source, harness.server.uri(id)]);
  const allocatedBytes = harness.store
    .mapRange(id, 0, 64 * MiB)
    .filter((r) => r.allocated)
    .reduce((sum, r) => sum + r.length, 0);
  assert.ok(
    allocatedBytes >= 3 * MiB && allocatedBytes <= 4 * MiB,
    `volume holds ${allocatedBytes} bytes, want ~3 MiB`,
  );
  const copy = join(harness.dir, 'sparse-out.raw');
  await run('nbdcopy', [harness.server.uri(id), copy]);
  assert.ok((await readFile(copy)).equals(await readFile(source)), 'round trip is byte-identical');
  assert.ok((await stat(copy)).blocks * 512 <= 8 * MiB, 'copy out is sparse');
});

test('fio --ioengine=nbd random writes verify with crc32c', async () => {
  const id = await volume(32 * MiB);
  const output = await run('fio', [
    '--name=verify',
    '--ioengine=nbd',
    `--uri=${harness.server.uri(id)}`,
    '--rw=randwrite',
    '--bs=4k',
    '--size=16M',
    '--iodepth=16',
    '--verify=crc32c',
    '--do_verify=1',
    '--verify_state_save=0',
    '--output-format=json',
  ]);
  const result = JSON.parse(output.slice(output.indexOf('{'))) as {
    jobs: { error: number; write: { io_bytes: number } }[];
  };
  assert.equal(result.jobs[0]?.error, 0);
  assert.equal(result.jobs[0]?.write.io_bytes, 16 * MiB);
});

test('a snapshot export keeps point-in-time contents while the volume moves on', async () => {
  const id = await volume(16 * MiB);
  const uri = harness.server.uri(id);
  await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x11 0 2M', uri]);
  const snap = newId('snap');
  await harness.store.snapshot(id, snap);
  await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x22 1M 2M', uri]);
  const snapUri = harness.server.uri(snap);
  await run('qemu-io', ['-r', '-f', 'raw', '-c', 'read -P 0x11 0 2M', '-c', 'read -P 0 2M 1M', snapUri]);
  await run('qemu-io', ['-f', 'raw', '-c', 'read -P 0x11 0 1M', '-c', 'read -P 0x22 1M 2M', uri]);
});

test('an attached volume opens only through its secret export name', async () => {
  const id = await volume(8 * MiB);
  const secret = harness.server.lockForAttachment(id, 'instance i-0123456789abcdef0');
  assert.notEqual(secret, id);
  // qemu shows the server's message (libnbd keeps it to its debug log).
  await assert.rejects(
    run('qemu-img', ['info', harness.server.uri(id)]),
    /attached to instance i-0123456789abcdef0/,
  );
  await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x42 0 64k', harness.server.uri(secret)]);
  assert.equal(
    harness.server.lockForAttachment(id, 'instance i-0123456789abcdef0'),
    secret,
    'same owner, same name',
  );
  assert.throws(
    () => harness.server.lockForAttachment(id, 'instance i-0000000000000000f'),
    /already attached/,
  );
  harness.server.unlock(id);
  await assert.rejects(run('qemu-img', ['info', harness.server.uri(secret)]), /no volume or snapshot/);
  await run('qemu-io', ['-f', 'raw', '-c', 'read -P 0x42 0 64k', harness.server.uri(id)]);
});

// Runs `strata nbd-uri ARGS` in-process (the verb alone, so other verbs' work in progress cannot break it).
async function strataNbdUri(args: string[]): Promise<string> {
  const program = new Command('strata').exitOverride();
  registerNbdUri(program);
  const printed: string[] = [];
  const log = console.log;
  console.log = (line: string) => printed.push(line);
  try {
    await program.parseAsync(['nbd-uri', ...args], { from: 'user' });
  } finally {
    console.log = log;
  }
  return printed.join('\n');
}

test('`strata nbd-uri` prints URIs nbdinfo opens, over the unix socket and over TCP', async () => {
  const id = await volume(2 * MiB);
  const unixUri = await strataNbdUri([id, '--data-dir', harness.dir, '--no-check']); // no database here: a bare pool
  assert.equal(unixUri, harness.server.uri(id));
  assert.match(await run('nbdinfo', ['--size', unixUri]), /^2097152$/m);
  const tcpServer = await startNbdServer({
    store: harness.store,
    socketPath: join(harness.dir, 'tcp-test.sock'),
    tcp: { host: '127.0.0.1', port: 0 },
  });
  try {
    const address = tcpServer.tcpAddress;
    assert.ok(address && address.port > 0);
    const tcpUri = await strataNbdUri([id, '--tcp', `127.0.0.1:${address.port}`, '--no-check']);
    assert.equal(tcpUri, `nbd://127.0.0.1:${address.port}/${id}`);
    assert.match(await run('nbdinfo', ['--size', tcpUri]), /^2097152$/m);
  } finally {
    await tcpServer.close();
  }
});
