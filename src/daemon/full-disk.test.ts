// A full disk is an error to the writer, never an outage (issue 12, docs/storage.md "Out of space"): the whole
// daemon on a small tmpfs of its own, driven as users drive it (AWS SDK, nbdcopy, qemu-io, strata fsck).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, statfs, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import {
  CreateSnapshotCommand,
  CreateTagsCommand,
  CreateVolumeCommand,
  DeleteVolumeCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { fillUp, tmpfsSkipReason, withTmpfs } from '../base/testing/tmpfs.ts';
import { poolSpace } from '../cli/pool-space.ts';
import { createSnapshot, createVolume, nbdRead, qemuIo } from '../api/ec2/actions/ebs-data-helpers.ts';
import { startDaemon, type Daemon } from './daemon.ts';

const MiB = 1024 * 1024;
const skip = tmpfsSkipReason();

interface Ran {
  readonly code: number;
  readonly output: string;
}

/** Runs a program to its end, whatever its exit code. */
function runTool(program: string, args: readonly string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(program, args, { maxBuffer: 16 * MiB }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

/** A file of `sizeBytes` distinct, incompressible bytes (nbdcopy would skip zeros). */
async function sourceFile(dir: string, sizeBytes: number): Promise<string> {
  const path = join(dir, `source-${sizeBytes}.raw`);
  const handle = await open(path, 'w');
  const chunk = randomBytes(MiB);
  for (let offset = 0; offset < sizeBytes; offset += MiB) {
    chunk.writeUInt32BE(offset / MiB, 0);
    await handle.write(chunk, 0, MiB, offset);
  }
  await handle.close();
  return path;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The daemon on `dataDir`, logging into `lines` so the test can read what an operator would. */
async function start(dataDir: string, lines: string[]): Promise<{ daemon: Daemon; ec2: EC2Client }> {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  const daemon = await startDaemon({
    dataDir,
    listen: { host: '127.0.0.1', port: 0 },
    hypervisor: 'fake',
    logger,
  });
  const ec2 = new EC2Client({
    endpoint: daemon.endpoint,
    region: daemon.cloud.regions.region,
    credentials: { accessKeyId: daemon.admin.accessKeyId, secretAccessKey: daemon.admin.secretAccessKey },
    maxAttempts: 1,
  });
  return { daemon, ec2 };
}

function tag(id: string): CreateTagsCommand {
  return new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'full-disk', Value: 'test' }] });
}

/** Runs `send`; returns null on success, else the error's code and HTTP status. */
async function outcome(send: () => Promise<unknown>) {
  try {
    await send();
    return null;
  } catch (error) {
    const e = error as { name: string; $metadata?: { httpStatusCode?: number } };
    return { code: e.name, status: e.$metadata?.httpStatusCode };
  }
}

test(
  'a full disk: ENOSPC to NBD writers, clean API errors, reads go on, recovery without restart',
  { skip },
  () =>
    withTmpfs(128 * MiB, async (mount) => {
      const scratch = await mkdtemp(join(tmpdir(), 'strata-full-disk-'));
      const dataDir = join(mount, 'data');
      const lines: string[] = [];
      let { daemon, ec2 } = await start(dataDir, lines);
      const uri = (id: string) => `nbd+unix:///${id}?socket=${join(dataDir, 'nbd.sock')}`;
      try {
        const source = await sourceFile(scratch, 192 * MiB);
        const small = await sourceFile(scratch, 32 * MiB);
        const volume = await createVolume(ec2, { Size: 1 });
        await qemuIo(uri(volume), ['write -P 0x5a 0 8M']);
        const snapshot = await createSnapshot(ec2, volume);
        const snapshotHash = sha256(await nbdRead(uri(snapshot), 0, 8 * MiB));
        assert.equal(snapshotHash, sha256(Buffer.alloc(8 * MiB, 0x5a)));

        // The reproduction, scaled down: copy more than the file system holds.
        const copy = await runTool('nbdcopy', ['--flush', source, uri(volume)]);
        assert.notEqual(copy.code, 0, 'nbdcopy of 192 MiB into a 128 MiB file system must fail');
        assert.match(copy.output, /No space left on device/, copy.output);
        assert.doesNotMatch(copy.output, /Input\/output error/, copy.output);
        const write = await runTool('qemu-io', ['-f', 'raw', '-c', 'write -P 0x77 512M 4M', uri(volume)]);
        assert.match(write.output, /No space left on device/, write.output);
        // Reads go on: the snapshot, and what the volume got; in-place writes too.
        assert.equal(sha256(await nbdRead(uri(snapshot), 0, 8 * MiB)), snapshotHash);
        const head = await nbdRead(uri(volume), 0, 8 * MiB);
        const sourceHead = (await readFile(source)).subarray(0, 8 * MiB);
        for (let at = 0; at < 8 * MiB; at += 64 * 1024) {
          const piece = head.subarray(at, at + 64 * 1024);
          const ok = piece.equals(sourceHead.subarray(at, at + 64 * 1024)) || piece.every((b) => b === 0x5a);
          assert.ok(ok, `volume bytes at ${at} are neither the old nor the copied data`);
        }
        assert.ok(
          lines.some((line) => line.includes("pool's file system is full")),
          'the log says the pool is full',
        );

        // Something else fills the disk too: the API answers its documented error, never a 500.
        const filler = join(mount, 'filler');
        await fillUp(filler);
        const failures = [];
        const createOne = new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 });
        for (let attempt = 0; attempt < 300 && failures.length === 0; attempt++) {
          const failed = await outcome(() => ec2.send(createOne));
          if (failed !== null) failures.push(failed);
        }
        failures.push(await outcome(() => ec2.send(new CreateSnapshotCommand({ VolumeId: volume }))));
        failures.push(await outcome(() => ec2.send(tag(volume))));
        assert.ok(
          failures[0] !== null && failures[0] !== undefined,
          'CreateVolume failed once the disk was full',
        );
        for (const failure of failures) {
          if (failure === null) continue;
          assert.deepEqual(failure, { code: 'InsufficientVolumeCapacity', status: 503 });
        }
        assert.equal(sha256(await nbdRead(uri(snapshot), 0, 8 * MiB)), snapshotHash);
        assert.equal((await poolSpace(dataDir)).warning, true, 'strata doctor warns');
        const faults = lines.filter((line) => /unexpected fault|cannot rollback|pool is stopped/.test(line));
        assert.deepEqual(faults, [], 'a full disk is no internal error');

        // Free space: the filler goes, the big volume is deleted. No restart.
        await unlink(filler);
        assert.equal(await outcome(() => ec2.send(new DeleteVolumeCommand({ VolumeId: volume }))), null);
        const again = await createVolume(ec2, { Size: 1 });
        let recovered: Ran | undefined;
        for (let attempt = 0; attempt < 50 && recovered?.code !== 0; attempt++) {
          await new Promise((resolve) => setTimeout(resolve, 200));
          const fs = await statfs(mount);
          if (fs.bavail * fs.bsize < 80 * MiB) continue; // the delete's extents are still being punched out
          recovered = await runTool('nbdcopy', ['--flush', small, uri(again)]);
        }
        assert.equal(recovered?.code, 0, `writes work again after the delete: ${recovered?.output}`);
        const copied = await nbdRead(uri(again), 0, 32 * MiB);
        assert.equal(sha256(copied), sha256(await readFile(small)));
        assert.equal(sha256(await nbdRead(uri(snapshot), 0, 8 * MiB)), snapshotHash);
        assert.equal(await outcome(() => ec2.send(tag(again))), null);

        // Offline: fsck is clean, and the snapshot is byte-identical after a restart.
        await daemon.close();
        const fsck = await runTool(process.execPath, [
          '--import',
          'tsx',
          'src/cli/strata.ts',
          'fsck',
          '--data-dir',
          dataDir,
        ]);
        assert.equal(fsck.code, 0, fsck.output);
        ({ daemon, ec2 } = await start(dataDir, lines));
        assert.equal(sha256(await nbdRead(uri(snapshot), 0, 8 * MiB)), snapshotHash);
      } finally {
        ec2.destroy();
        await daemon.close();
        await rm(scratch, { recursive: true, force: true });
      }
    }),
);
