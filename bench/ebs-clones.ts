// Golden-image fan-out through the EC2 API: time to create N volumes from one snapshot (until every one is
// `available`) and the pool bytes they take, against `strata serve` in its own process and, side by side,
// moto_server running the same client workload (moto keeps no data, so it has no pool bytes to report).
// Run by hand:
//   node --import tsx bench/ebs-clones.ts              # 1000 volumes from a snapshot of 64 MiB written
//   node --import tsx bench/ebs-clones.ts --quick      # 50 volumes, a smoke run (bench/ebs-clones.test.ts)
//   node --import tsx bench/ebs-clones.ts --no-moto    # Strata only
//   options: --count N, --concurrency C (CreateVolume calls in flight, default 8)
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateSnapshotCommand,
  CreateVolumeCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { nbdUri } from '../src/nbd/nbd-server.ts';
import { motoAvailable, percentile, withMotoServer, withStrata } from './api-targets.ts';

const quick = process.argv.includes('--quick');
const withMoto = !process.argv.includes('--no-moto') && motoAvailable();
const flag = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(name);
  const value = at > 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} needs a positive integer`);
  return value;
};
const count = flag('--count', quick ? 50 : 1000);
const concurrency = flag('--concurrency', 8);
const goldenMiB = quick ? 8 : 64;

/** What one target measured. */
interface Result {
  readonly target: string;
  readonly seconds: number;
  readonly createMsP50: number;
  readonly createMsP99: number;
  /** Growth of the pool's data file and of its metadata (meta.db + WAL), on disk; undefined for moto. */
  readonly dataBytes?: number;
  readonly metaBytes?: number;
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 6000; i++) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function allAvailable(ec2: EC2Client, ids: readonly string[]): Promise<boolean> {
  for (let i = 0; i < ids.length; i += 200) {
    const out = await ec2.send(new DescribeVolumesCommand({ VolumeIds: ids.slice(i, i + 200) }));
    if ((out.Volumes ?? []).some((v) => v.State !== 'available')) return false;
  }
  return true;
}

/** An 8 GiB origin volume (with `goldenMiB` of data written over NBD when `nbdSocket` is given), snapshotted. */
async function goldenSnapshot(ec2: EC2Client, nbdSocket?: string): Promise<string> {
  const volume = (await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 8 })))
    .VolumeId!;
  await until('the origin volume', () => allAvailable(ec2, [volume]));
  if (nbdSocket !== undefined) {
    const uri = nbdUri(volume, { socketPath: nbdSocket });
    execFileSync('qemu-io', ['-f', 'raw', '-c', `write -P 0xab 0 ${goldenMiB}M`, uri], { stdio: 'ignore' });
  }
  const snap = (await ec2.send(new CreateSnapshotCommand({ VolumeId: volume }))).SnapshotId!;
  await until('the snapshot', async () => {
    const out = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap] }));
    return out.Snapshots?.[0]?.State === 'completed';
  });
  return snap;
}

function allocated(dir: string, match: (name: string) => boolean): number {
  return readdirSync(dir)
    .filter(match)
    .reduce((sum, name) => sum + statSync(join(dir, name)).blocks * 512, 0);
}

async function measure(target: string, ec2: EC2Client, dataDir?: string): Promise<Result> {
  const snap = await goldenSnapshot(ec2, dataDir && join(dataDir, 'nbd.sock'));
  const pool = dataDir && join(dataDir, 'pool');
  const isData = (name: string): boolean => name === 'data';
  const isMeta = (name: string): boolean => name.startsWith('meta.db');
  const before = pool ? { data: allocated(pool, isData), meta: allocated(pool, isMeta) } : undefined;
  const latencies: number[] = [];
  const ids: string[] = [];
  const started = performance.now();
  let issued = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (issued++ < count) {
        const t0 = performance.now();
        const out = await ec2.send(
          new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', SnapshotId: snap }),
        );
        latencies.push(performance.now() - t0);
        ids.push(out.VolumeId!);
      }
    }),
  );
  await until(`${count} volumes available`, () => allAvailable(ec2, ids));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    target,
    seconds,
    createMsP50: percentile(latencies, 50),
    createMsP99: percentile(latencies, 99),
    ...(pool && before
      ? { dataBytes: allocated(pool, isData) - before.data, metaBytes: allocated(pool, isMeta) - before.meta }
      : {}),
  };
}

function report(results: readonly Result[]): void {
  console.log(
    `\n${count} volumes from one snapshot (${goldenMiB} MiB of data on Strata), ${concurrency} CreateVolume in flight\n`,
  );
  console.table(
    results.map((r) => ({
      target: r.target,
      'all available s': r.seconds.toFixed(2),
      'volumes /s': (count / r.seconds).toFixed(0),
      'CreateVolume p50 ms': r.createMsP50.toFixed(2),
      'CreateVolume p99 ms': r.createMsP99.toFixed(2),
      'pool data bytes': r.dataBytes ?? '-',
      'pool metadata bytes': r.metaBytes ?? '-',
    })),
  );
  const [strata, moto] = results;
  if (strata?.dataBytes !== undefined)
    console.log(`pool data bytes per volume: ${(strata.dataBytes / count).toFixed(0)}`);
  if (strata?.metaBytes !== undefined)
    console.log(`pool metadata bytes per volume: ${(strata.metaBytes / count).toFixed(0)}`);
  if (strata && moto)
    console.log(`time to all available: moto / strata = ${(moto.seconds / strata.seconds).toFixed(2)}x`);
  else console.log('moto_server: not run (--no-moto, or not on PATH)');
}

const results: Result[] = [await withStrata((ec2, dataDir) => measure('strata', ec2, dataDir))];
if (withMoto) results.push(await withMotoServer((ec2) => measure('moto_server', ec2)));
report(results);
