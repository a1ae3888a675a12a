// EBS direct API benchmark, run by hand:
//   node --import tsx bench/ebs.ts [--quick]
// Starts an in-process daemon and measures, through the public API (@aws-sdk/client-ebs, 8 blocks in flight):
// - `strata snapshot upload` / `download` (the CLI, as a separate process) throughput of a 1 GiB image of random data (--quick: 16 MiB);
// - ListChangedBlocks over a 1 TiB volume with 1% of its 512 KiB blocks changed between two snapshots
//   (--quick: 4 GiB), paged at 10000 blocks, and ListChangedBlocks with only the second snapshot.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { EBSClient, paginateListChangedBlocks } from '@aws-sdk/client-ebs';
import { CreateSnapshotCommand, CreateVolumeCommand } from '@aws-sdk/client-ec2';
import { limits, units } from '../src/base/limits.ts';
import { startTestDaemon, type TestDaemon } from '../src/api/testing/test-daemon.ts';

const run = promisify(execFile);
const strataBin = fileURLToPath(new URL('../bin/strata', import.meta.url));

const quick = process.argv.includes('--quick');
const imageBytes = quick ? 16 * units.MiB : units.GiB;
const changedVolumeGiB = quick ? 4 : 1024;
const changedFraction = 0.01;

async function writeImage(path: string): Promise<void> {
  const handle = await open(path, 'w');
  const chunk = randomBytes(4 * units.MiB);
  for (let offset = 0; offset < imageBytes; offset += chunk.length)
    await handle.write(chunk, 0, chunk.length, offset);
  await handle.close();
}

async function transfer(strata: TestDaemon, work: string): Promise<void> {
  const image = join(work, 'image.raw');
  await writeImage(image);
  const flags = ['--endpoint-url', strata.endpoint, '--data-dir', work];
  let started = performance.now();
  const { stdout } = await run(strataBin, ['snapshot', 'upload', image, ...flags]);
  const uploadS = (performance.now() - started) / 1000;
  started = performance.now();
  await run(strataBin, ['snapshot', 'download', stdout.trim(), join(work, 'back.raw'), ...flags]);
  const downloadS = (performance.now() - started) / 1000;
  const mib = imageBytes / units.MiB;
  console.log(
    `EBS direct transfer of a ${mib} MiB image (all blocks data, 8 in flight, \`strata snapshot\` CLI process incl. ~1 s start)`,
  );
  console.log(`  upload    ${(mib / uploadS).toFixed(1)} MiB/s  (${uploadS.toFixed(2)} s)`);
  console.log(`  download  ${(mib / downloadS).toFixed(1)} MiB/s  (${downloadS.toFixed(2)} s)`);
}

// Two snapshots of one volume; 1% of the blocks get 4 KiB each before each snapshot (a changed block costs
// one extent of pool space, not 512 KiB).
async function changedSnapshots(
  strata: TestDaemon,
): Promise<{ first: string; second: string; changed: number }> {
  const ec2 = strata.ec2();
  const { VolumeId: volumeId = '' } = await ec2.send(
    new CreateVolumeCommand({ Size: changedVolumeGiB, AvailabilityZone: `${strata.region}a` }),
  );
  await strata.cloud.ebs.idle();
  const blocks = (changedVolumeGiB * units.GiB) / limits.ebsBlockBytes;
  const stride = Math.round(1 / changedFraction);
  const data = randomBytes(4096);
  const snap = async (phase: number): Promise<string> => {
    for (let index = phase; index < blocks; index += stride) {
      await strata.cloud.store.write(volumeId, index * limits.ebsBlockBytes, data);
    }
    const { SnapshotId = '' } = await ec2.send(new CreateSnapshotCommand({ VolumeId: volumeId }));
    await strata.cloud.ebs.idle();
    return SnapshotId;
  };
  const first = await snap(0);
  const second = await snap(1);
  return { first, second, changed: Math.ceil(blocks / stride) };
}

async function listChanged(strata: TestDaemon): Promise<void> {
  const { first, second, changed } = await changedSnapshots(strata);
  const client = new EBSClient({
    endpoint: strata.endpoint,
    region: strata.region,
    credentials: { accessKeyId: strata.admin.accessKeyId, secretAccessKey: strata.admin.secretAccessKey },
  });
  const count = async (firstSnapshotId: string | undefined): Promise<{ blocks: number; ms: number }> => {
    const started = performance.now();
    let blocks = 0;
    const pages = paginateListChangedBlocks(
      { client, pageSize: 10_000 },
      { FirstSnapshotId: firstSnapshotId, SecondSnapshotId: second },
    );
    for await (const page of pages) blocks += page.ChangedBlocks?.length ?? 0;
    return { blocks, ms: performance.now() - started };
  };
  const between = await count(first);
  const alone = await count(undefined);
  client.destroy();
  console.log(
    `ListChangedBlocks on a ${changedVolumeGiB} GiB volume, ${changed} blocks (1%) changed per snapshot`,
  );
  console.log(`  first→second  ${between.blocks} blocks in ${between.ms.toFixed(0)} ms (all pages)`);
  console.log(`  second alone  ${alone.blocks} blocks in ${alone.ms.toFixed(0)} ms (all pages)`);
}

const strata = await startTestDaemon();
const work = mkdtempSync(join(tmpdir(), 'strata-bench-ebs-'));
process.env.AWS_ACCESS_KEY_ID = strata.admin.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = strata.admin.secretAccessKey;
process.env.AWS_REGION = strata.region;
try {
  await transfer(strata, work);
  await listChanged(strata);
} finally {
  await strata.close();
  rmSync(work, { recursive: true, force: true });
}
