// Shared steps for the end-to-end EBS data tests: drive volumes and snapshots through the EC2 API and reach
// their bytes with real NBD clients (qemu-io, qemu-img, nbdcopy), the way a user would.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CreateSnapshotCommand,
  CreateVolumeCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { setTimeout as sleep } from 'node:timers/promises';

const execFileAsync = promisify(execFile);

/** Runs a program and returns its stdout; a non-zero exit (e.g. a qemu-io pattern mismatch) throws. */
export async function run(program: string, args: readonly string[]): Promise<string> {
  const { stdout } = await execFileAsync(program, args, { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Runs qemu-io commands (`write -P 0xab 0 64k`, `read -P …`) against an NBD URI in one connection. */
export async function qemuIo(uri: string, commands: readonly string[]): Promise<void> {
  // Read-only when only reading: snapshot exports refuse a read-write open.
  const readOnly = commands.every((c) => c.startsWith('read')) ? ['-r'] : [];
  await run('qemu-io', ['-f', 'raw', ...readOnly, ...commands.flatMap((c) => ['-c', c]), uri]);
}

/** Reads `length` bytes at `offset` (both multiples of 64 KiB) from an NBD URI with `qemu-img dd`. */
export async function nbdRead(uri: string, offset: number, length: number): Promise<Buffer> {
  const bs = 64 * 1024;
  assert.ok(offset % bs === 0 && length % bs === 0, 'nbdRead: 64 KiB-aligned ranges only');
  const dir = mkdtempSync(join(tmpdir(), 'strata-nbd-read-'));
  try {
    const out = join(dir, 'out.raw');
    await run('qemu-img', [
      'dd',
      '-f',
      'raw',
      '-O',
      'raw',
      `bs=${bs}`,
      `skip=${offset / bs}`,
      `count=${length / bs}`,
      `if=${uri}`,
      `of=${out}`,
    ]);
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Polls DescribeVolumes until every volume is `available` (as a user's waiter would). */
export async function waitAvailable(ec2: EC2Client, volumeIds: readonly string[]): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const out = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [...volumeIds] }));
    if (out.Volumes?.every((v) => v.State === 'available')) return;
    await sleep(25);
  }
  assert.fail(`volumes did not become available: ${volumeIds.join(' ')}`);
}

/** Polls DescribeSnapshots until the snapshot is `completed`. */
export async function waitCompleted(ec2: EC2Client, snapshotId: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const out = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }));
    if (out.Snapshots?.[0]?.State === 'completed') return;
    await sleep(25);
  }
  assert.fail(`snapshot ${snapshotId} did not complete`);
}

/** CreateVolume (empty, or from a snapshot) and wait until it is available. */
export async function createVolume(
  ec2: EC2Client,
  input: { Size?: number; SnapshotId?: string } = { Size: 1 },
): Promise<string> {
  const out = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', ...input }));
  const id = out.VolumeId ?? assert.fail('no VolumeId');
  await waitAvailable(ec2, [id]);
  return id;
}

/** CreateSnapshot and wait until it is completed. */
export async function createSnapshot(ec2: EC2Client, volumeId: string): Promise<string> {
  const out = await ec2.send(new CreateSnapshotCommand({ VolumeId: volumeId }));
  const id = out.SnapshotId ?? assert.fail('no SnapshotId');
  await waitCompleted(ec2, id);
  return id;
}
