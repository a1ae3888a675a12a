// `strata snapshot upload/download` as a user runs them (the real CLI, a subprocess) against the in-process
// daemon: a raw image and a qcow2 made by qemu-img go up and come back byte-identical and sparse.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import { units } from '../base/limits.ts';
import { startTestDaemon, type TestDaemon } from '../api/testing/test-daemon.ts';

const run = promisify(execFile);
const strataBin = fileURLToPath(new URL('../../bin/strata', import.meta.url));
let strata: TestDaemon;
let work: string;

before(async () => {
  strata = await startTestDaemon();
  work = mkdtempSync(join(tmpdir(), 'strata-snapshot-cli-'));
});
after(async () => {
  await strata.close();
  rmSync(work, { recursive: true, force: true });
});

function cli(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(strataBin, [...args, '--endpoint-url', strata.endpoint, '--data-dir', work], {
    env: {
      ...process.env,
      AWS_ACCESS_KEY_ID: strata.admin.accessKeyId,
      AWS_SECRET_ACCESS_KEY: strata.admin.secretAccessKey,
      AWS_REGION: strata.region,
    },
  });
}

const imageBytes = 64 * units.MiB;

// A sparse 64 MiB raw image with data in 4 blocks of 512 KiB (two writes share block 0, one is unaligned);
// its volume is 1 GiB.
async function sparseImage(path: string): Promise<void> {
  const handle = await open(path, 'w');
  await handle.truncate(imageBytes);
  for (const offset of [0, 4096, 3 * units.MiB + 100, 60 * units.MiB, imageBytes - 4096]) {
    await handle.write(randomBytes(4096), 0, 4096, offset);
  }
  await handle.close();
}

async function roundTrip(image: string, raw: string): Promise<void> {
  const up = await cli(['snapshot', 'upload', image, '--description', 'cli test']);
  const snapshotId = up.stdout.trim();
  assert.match(snapshotId, /^snap-[0-9a-f]{17}$/);
  const described = await strata.ec2().send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }));
  assert.equal(described.Snapshots?.[0]?.State, 'completed');
  assert.equal(described.Snapshots?.[0]?.Description, 'cli test');
  const tags = described.Snapshots?.[0]?.Tags ?? [];
  assert.deepEqual(
    tags,
    [{ Key: 'strata:source-bytes', Value: String(imageBytes) }],
    'upload records the size',
  );
  const out = join(work, `${snapshotId}.raw`);
  await cli(['snapshot', 'download', snapshotId, out]);
  assert.equal(statSync(out).size, imageBytes, 'as long as the uploaded image, from the tag');
  assert.ok(readFileSync(out).equals(readFileSync(raw)), 'the image bytes come back identical');
  // Only the 4 data blocks (512 KiB each) are allocated: the rest is holes, so zeros.
  const allocatedBytes = statSync(out).blocks * 512;
  assert.ok(allocatedBytes <= 4 * 512 * units.KiB, `download allocates ${allocatedBytes} bytes`);
  const whole = join(work, `${snapshotId}-whole.raw`);
  await cli(['snapshot', 'download', snapshotId, whole, '--length', String(units.GiB)]);
  assert.equal(statSync(whole).size, units.GiB, '--length: the whole 1 GiB volume');
  const head = Buffer.alloc(imageBytes);
  const handle = await open(whole, 'r');
  await handle.read(head, 0, imageBytes, 0);
  await handle.close();
  assert.ok(head.equals(readFileSync(raw)), 'the image, then zeros');
  const cut = join(work, `${snapshotId}-cut.raw`);
  await cli(['snapshot', 'download', snapshotId, cut, '--length', String(units.MiB + 7)]);
  assert.ok(
    readFileSync(cut).equals(readFileSync(raw).subarray(0, units.MiB + 7)),
    '--length cuts mid-block',
  );
}

test('upload a sparse raw image, download it back byte-identical and sparse', async () => {
  const raw = join(work, 'disk.raw');
  await sparseImage(raw);
  await roundTrip(raw, raw);
});

test('upload a qcow2 made by qemu-img (converted to raw), download it back identical to its raw form', async () => {
  const raw = join(work, 'source.raw');
  await sparseImage(raw);
  const qcow2 = join(work, 'disk.qcow2');
  await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
  assert.ok(statSync(qcow2).size < 10 * units.MiB, 'the qcow2 is small');
  await roundTrip(qcow2, raw);
});
