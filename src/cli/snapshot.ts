// `strata snapshot upload FILE` / `strata snapshot download SNAP FILE`: disk images to and from snapshots
// through the PUBLIC EBS direct API (@aws-sdk/client-ebs), in the spirit of awslabs/coldsnap, so they work
// against Strata and AWS alike. Upload converts qcow2/vmdk/vhd… to raw with `qemu-img convert`, skips zero
// blocks and puts 8 blocks at a time; download writes only data blocks into a sparse file of the volume size.
// Credentials: the standard AWS chain (env, --profile); with neither, `<data-dir>/credentials` and the
// endpoint in `<data-dir>/config` of a local daemon.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import {
  EBSClient,
  CompleteSnapshotCommand,
  GetSnapshotBlockCommand,
  PutSnapshotBlockCommand,
  StartSnapshotCommand,
  paginateListSnapshotBlocks,
} from '@aws-sdk/client-ebs';
import { DescribeSnapshotsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { limits, units } from '../base/limits.ts';
import { runTool } from '../compute/run-tool.ts';
import { credentialsPaths, profileName } from '../daemon/credentials-files.ts';
import { dataDirOption } from '../daemon/daemon-config.ts';
import { registerArchiveVerbs } from './snapshot-archive-verbs.ts';

const blockBytes = limits.ebsBlockBytes;
const concurrencyDefault = limits.ebsTransferBlocksInFlight;

/** Flags shared by both verbs. */
interface ClientFlags {
  endpointUrl?: string;
  profile?: string;
  dataDir: string;
  concurrency: string;
}

/** Registers `strata snapshot`. */
export function registerSnapshot(program: Command): void {
  const snapshot = program.command('snapshot').description('upload and download snapshots (EBS direct API)');
  const common = (command: Command): Command =>
    command
      .option('--endpoint-url <url>', 'API endpoint (default: <data-dir>/config of a local daemon, else AWS)')
      .option(
        '--profile <name>',
        'AWS profile (default: the standard AWS chain, else <data-dir>/credentials)',
      )
      .option('--concurrency <n>', 'blocks in flight', String(concurrencyDefault))
      .addOption(dataDirOption());
  common(snapshot.command('upload <file>'))
    .description('upload a disk image (raw, qcow2, vmdk, vhd …) as a new snapshot; prints its id')
    .option('--description <text>', 'snapshot description')
    .action((file: string, flags: ClientFlags & { description?: string }) =>
      reportFailure('upload', async () => console.log(await uploadSnapshot(file, flags))),
    );
  common(snapshot.command('download <snapshot-id> <file>'))
    .description(
      'download a snapshot into a sparse raw file: as long as the uploaded image when upload recorded it, else the volume size (whole GiB)',
    )
    .option('--length <bytes>', 'cut (or extend) the file to this many bytes')
    .action((snapshotId: string, file: string, flags: DownloadFlags) =>
      reportFailure('download', () => downloadSnapshot(snapshotId, file, flags)),
    );
  registerArchiveVerbs(snapshot);
}

// A failed transfer prints one line (the API's error name and message) and exits 1, without a stack.
async function reportFailure(verb: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    console.error(`strata snapshot ${verb}: ${name}: ${message}`);
    process.exitCode = 1;
  }
}

/** An EBS client from the flags, the AWS chain, or a local daemon's data dir. */
export function ebsClientFor(flags: ClientFlags): EBSClient {
  return new EBSClient(clientConfig(flags));
}

// Where and as whom both clients (EBS direct, and EC2 for a snapshot's tags) talk.
function clientConfig(flags: ClientFlags): { endpoint?: string; region?: string; profile?: string } {
  const standard =
    flags.profile !== undefined ||
    process.env.AWS_ACCESS_KEY_ID !== undefined ||
    process.env.AWS_PROFILE !== undefined;
  const paths = credentialsPaths(resolve(flags.dataDir));
  if (!standard && existsSync(paths.credentials)) {
    process.env.AWS_SHARED_CREDENTIALS_FILE = paths.credentials;
    process.env.AWS_CONFIG_FILE = paths.config;
    process.env.AWS_PROFILE = profileName;
    const config = existsSync(paths.config) ? readFileSync(paths.config, 'utf8') : '';
    const endpoint = flags.endpointUrl ?? /^endpoint_url\s*=\s*(\S+)/m.exec(config)?.[1];
    const region = /^region\s*=\s*(\S+)/m.exec(config)?.[1];
    return {
      ...(endpoint ? { endpoint } : {}),
      ...(region ? { region } : {}),
      profile: profileName,
    };
  }
  if (flags.profile !== undefined) process.env.AWS_PROFILE = flags.profile;
  return {
    ...(flags.endpointUrl ? { endpoint: flags.endpointUrl } : {}),
    ...(flags.profile ? { profile: flags.profile } : {}),
  };
}

function parseConcurrency(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error(`--concurrency must be 1 to 64: got ${text}`);
  return n;
}

/** Uploads `file` as a new snapshot; returns its id. */
export async function uploadSnapshot(
  file: string,
  flags: ClientFlags & { description?: string },
): Promise<string> {
  const concurrency = parseConcurrency(flags.concurrency);
  const client = ebsClientFor(flags);
  const scratch = mkdtempSync(join(tmpdir(), 'strata-upload-'));
  try {
    const raw = await asRaw(file, scratch);
    const handle = await open(raw.path, 'r');
    try {
      const sizeGiB = Math.max(1, Math.ceil(raw.sizeBytes / units.GiB));
      const started = await client.send(
        new StartSnapshotCommand({
          VolumeSize: sizeGiB,
          Description: flags.description,
          ClientToken: randomUUID(),
          // The image's own size, which whole GiB lose: download gives the file back at this length.
          Tags: [{ Key: sourceBytesTag, Value: String(raw.sizeBytes) }],
        }),
      );
      const snapshotId = started.SnapshotId ?? '';
      const blockCount = Math.ceil(raw.sizeBytes / blockBytes);
      const checksums = new Map<number, Buffer>();
      await forEachBlock(blockCount, concurrency, 'upload', async (index) => {
        const data = await readBlock(handle, index, raw.sizeBytes);
        if (isZero(data)) return;
        const digest = createHash('sha256').update(data).digest();
        checksums.set(index, digest);
        await client.send(
          new PutSnapshotBlockCommand({
            SnapshotId: snapshotId,
            BlockIndex: index,
            BlockData: data,
            DataLength: blockBytes,
            Checksum: digest.toString('base64'),
            ChecksumAlgorithm: 'SHA256',
            Progress: Math.floor(((index + 1) * 100) / blockCount),
          }),
        );
      });
      await complete(client, snapshotId, checksums);
      return snapshotId;
    } finally {
      await handle.close();
    }
  } finally {
    client.destroy();
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function complete(
  client: EBSClient,
  snapshotId: string,
  checksums: Map<number, Buffer>,
): Promise<void> {
  const aggregate = createHash('sha256');
  for (const index of [...checksums.keys()].sort((a, b) => a - b))
    aggregate.update(checksums.get(index) ?? '');
  await client.send(
    new CompleteSnapshotCommand({
      SnapshotId: snapshotId,
      ChangedBlocksCount: checksums.size,
      Checksum: aggregate.digest('base64'),
      ChecksumAlgorithm: 'SHA256',
      ChecksumAggregationMethod: 'LINEAR',
    }),
  );
}

// A raw view of `file`: itself when raw, else a sparse `qemu-img convert -O raw` copy in `scratch`.
async function asRaw(file: string, scratch: string): Promise<{ path: string; sizeBytes: number }> {
  const info = JSON.parse(await runTool('qemu-img', ['info', '--output=json', file])) as {
    format: string;
    'virtual-size': number;
  };
  if (info.format === 'raw') return { path: file, sizeBytes: info['virtual-size'] };
  const path = join(scratch, 'image.raw');
  await runTool('qemu-img', ['convert', '-O', 'raw', file, path], { timeoutMs: 24 * 3600_000 });
  return { path, sizeBytes: info['virtual-size'] };
}

async function readBlock(handle: FileHandle, index: number, sizeBytes: number): Promise<Buffer> {
  const data = Buffer.alloc(blockBytes);
  const length = Math.min(blockBytes, sizeBytes - index * blockBytes);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(data, done, length - done, index * blockBytes + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return data;
}

const zeroBlock = Buffer.alloc(blockBytes);

// Native memcmp against a zero block: scanning a 1 GiB image costs milliseconds, not a JS loop's seconds.
function isZero(data: Buffer): boolean {
  return data.length === blockBytes ? data.equals(zeroBlock) : data.every((byte) => byte === 0);
}

/** The tag `strata snapshot upload` puts on a snapshot: the uploaded image's size in bytes. */
export const sourceBytesTag = 'strata:source-bytes';

/** Flags of `snapshot download`. */
interface DownloadFlags extends ClientFlags {
  length?: string;
}

/**
 * Downloads `snapshotId` into `file`: only data blocks written, the file as long as --length, else the size
 * upload recorded in the snapshot's tag, else the volume size.
 */
export async function downloadSnapshot(
  snapshotId: string,
  file: string,
  flags: DownloadFlags,
): Promise<void> {
  const concurrency = parseConcurrency(flags.concurrency);
  const lengthBytes = flags.length === undefined ? undefined : parseLength(flags.length);
  const client = ebsClientFor(flags);
  try {
    const blocks: { index: number; token: string }[] = [];
    let sizeGiB = 0;
    for await (const page of paginateListSnapshotBlocks({ client }, { SnapshotId: snapshotId })) {
      sizeGiB = page.VolumeSize ?? sizeGiB;
      for (const b of page.Blocks ?? []) blocks.push({ index: b.BlockIndex ?? 0, token: b.BlockToken ?? '' });
    }
    const fileBytes = lengthBytes ?? (await recordedSourceBytes(snapshotId, flags)) ?? sizeGiB * units.GiB;
    const handle = await open(file, 'w');
    try {
      await handle.truncate(fileBytes);
      await forEachBlock(blocks.length, concurrency, 'download', async (position) => {
        const block = blocks[position] ?? { index: 0, token: '' };
        const got = await client.send(
          new GetSnapshotBlockCommand({
            SnapshotId: snapshotId,
            BlockIndex: block.index,
            BlockToken: block.token,
          }),
        );
        const data = Buffer.from(await (got.BlockData?.transformToByteArray() ?? new Uint8Array()));
        const actual = createHash('sha256').update(data).digest('base64');
        if (actual !== got.Checksum) {
          throw new Error(`block ${block.index} of ${snapshotId}: checksum ${actual} is not ${got.Checksum}`);
        }
        const offset = block.index * blockBytes;
        const length = Math.min(data.length, Math.max(0, fileBytes - offset));
        if (length > 0 && !isZero(data)) await handle.write(data, 0, length, offset);
      });
    } finally {
      await handle.close();
    }
  } finally {
    client.destroy();
  }
}

function parseLength(text: string): number {
  const bytes = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(bytes)) throw new Error(`--length must be a number of bytes: got ${text}`);
  return bytes;
}

// The size upload recorded (tag strata:source-bytes), through EC2's DescribeSnapshots; undefined without one.
async function recordedSourceBytes(snapshotId: string, flags: ClientFlags): Promise<number | undefined> {
  const ec2 = new EC2Client(clientConfig(flags));
  try {
    const found = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }));
    const value = found.Snapshots?.[0]?.Tags?.find((tag) => tag.Key === sourceBytesTag)?.Value;
    const bytes = Number(value);
    return value !== undefined && Number.isSafeInteger(bytes) && bytes >= 0 ? bytes : undefined;
  } catch {
    // Not allowed to describe it, or an EBS-only endpoint: the volume size is still a right answer.
    return undefined;
  } finally {
    ec2.destroy();
  }
}

// Runs `work(0..count-1)` with `concurrency` workers and a progress bar on stderr.
async function forEachBlock(
  count: number,
  concurrency: number,
  label: string,
  work: (index: number) => Promise<void>,
): Promise<void> {
  const bar = new SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {value}/{total} blocks | {eta}s left`,
    },
    Presets.shades_classic,
  );
  bar.start(count, 0);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      await work(index);
      bar.increment();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(count, 1)) }, worker));
  } finally {
    bar.stop();
  }
}
