// EC2 control-plane benchmark: CreateVolume latency and DescribeVolumes throughput with many volumes in
// one account, against Strata (`strata serve` in its own process) and, side by side, moto_server running
// the same client workload. Run by hand:
//   node --import tsx bench/api.ts            # 10 000 volumes
//   node --import tsx bench/api.ts --quick    # 200 volumes, a smoke run
//   node --import tsx bench/api.ts --no-moto  # Strata only
//   node --import tsx bench/api.ts --count 30 # any volume count (the smoke test uses a small one)
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateVolumeCommand, DescribeVolumesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { percentile, withMotoServer, withStrata } from './api-targets.ts';

const quick = process.argv.includes('--quick');
const withMoto = !process.argv.includes('--no-moto');
const countFlag = process.argv.indexOf('--count');
const volumeCount = countFlag > 0 ? Number(process.argv[countFlag + 1]) : quick ? 200 : 10_000;
const describeRounds = quick ? 5 : 20;
if (!Number.isSafeInteger(volumeCount) || volumeCount < 1)
  throw new Error('--count needs a positive integer');

/** What one target measured. */
interface Result {
  readonly target: string;
  readonly createMsP50: number;
  readonly createMsP99: number;
  readonly createPerSecond: number;
  readonly describeAllMs: number;
  readonly describeVolumesPerSecond: number;
  readonly pagedScanMs: number;
}

async function measure(target: string, ec2: EC2Client): Promise<Result> {
  const latencies: number[] = [];
  const createStart = performance.now();
  for (let i = 0; i < volumeCount; i++) {
    const t0 = performance.now();
    await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }));
    latencies.push(performance.now() - t0);
  }
  const createSeconds = (performance.now() - createStart) / 1000;
  latencies.sort((a, b) => a - b);
  await sleep(500); // let background creating → available transitions settle
  const all = await ec2.send(new DescribeVolumesCommand({}));
  if ((all.Volumes?.length ?? 0) < volumeCount)
    throw new Error(`${target}: expected ${volumeCount} volumes, got ${all.Volumes?.length}`);
  const describeStart = performance.now();
  for (let i = 0; i < describeRounds; i++) await ec2.send(new DescribeVolumesCommand({}));
  const describeAllMs = (performance.now() - describeStart) / describeRounds;
  const scanStart = performance.now();
  let token: string | undefined;
  let seen = 0;
  do {
    const page = await ec2.send(new DescribeVolumesCommand({ MaxResults: 500, NextToken: token }));
    seen += page.Volumes?.length ?? 0;
    token = page.NextToken;
  } while (token);
  const pagedScanMs = performance.now() - scanStart;
  if (seen < volumeCount) throw new Error(`${target}: paged scan saw ${seen} of ${volumeCount}`);
  return {
    target,
    createMsP50: percentile(latencies, 50),
    createMsP99: percentile(latencies, 99),
    createPerSecond: volumeCount / createSeconds,
    describeAllMs,
    describeVolumesPerSecond: (volumeCount * 1000) / describeAllMs,
    pagedScanMs,
  };
}

function report(results: readonly Result[]): void {
  console.log(
    `\n${volumeCount} volumes in one account; DescribeVolumes (all) averaged over ${describeRounds} calls\n`,
  );
  console.table(
    results.map((r) => ({
      target: r.target,
      'CreateVolume p50 ms': r.createMsP50.toFixed(2),
      'CreateVolume p99 ms': r.createMsP99.toFixed(2),
      'CreateVolume /s': r.createPerSecond.toFixed(0),
      'DescribeVolumes(all) ms': r.describeAllMs.toFixed(1),
      'volumes described /s': r.describeVolumesPerSecond.toFixed(0),
      'paged scan (500/page) ms': r.pagedScanMs.toFixed(1),
    })),
  );
  const [strata, moto] = results;
  if (strata && moto) {
    console.log(
      `CreateVolume p50 latency: moto / strata = ${(moto.createMsP50 / strata.createMsP50).toFixed(2)}x`,
    );
    console.log(
      `DescribeVolumes(all) time: moto / strata = ${(moto.describeAllMs / strata.describeAllMs).toFixed(2)}x`,
    );
    console.log(`paged scan time: moto / strata = ${(moto.pagedScanMs / strata.pagedScanMs).toFixed(2)}x`);
  }
}

const results: Result[] = [await withStrata((ec2) => measure('strata', ec2))];
if (withMoto) results.push(await withMotoServer((ec2) => measure('moto_server', ec2)));
report(results);
