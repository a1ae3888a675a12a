// EC2 control-plane benchmark: CreateVolume latency and DescribeVolumes throughput with many volumes in
// one account, against Strata (`strata serve` in its own process) and, side by side, moto_server running
// the same client workload. Run by hand:
//   node --import tsx bench/api.ts            # 10 000 volumes
//   node --import tsx bench/api.ts --quick    # 200 volumes, a smoke run
//   node --import tsx bench/api.ts --no-moto  # Strata only
//   node --import tsx bench/api.ts --count 30 # any volume count (the smoke test uses a small one)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateVolumeCommand, DescribeVolumesCommand, EC2Client } from '@aws-sdk/client-ec2';

const quick = process.argv.includes('--quick');
const withMoto = !process.argv.includes('--no-moto');
const countFlag = process.argv.indexOf('--count');
const volumeCount = countFlag > 0 ? Number(process.argv[countFlag + 1]) : quick ? 200 : 10_000;
const describeRounds = quick ? 5 : 20;
if (!Number.isSafeInteger(volumeCount) || volumeCount < 1)
  throw new Error('--count needs a positive integer');
const root = join(fileURLToPath(import.meta.url), '..', '..');
const keys = {
  accessKeyId: 'AKIABENCHMARK0000001',
  secretAccessKey: 'benchmark-secret-key-0000000000000000000',
};

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

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function waitReady(client: EC2Client, child: ChildProcess, name: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    try {
      await client.send(new DescribeVolumesCommand({}));
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`${name} did not become ready`);
}

function client(endpoint: string): EC2Client {
  return new EC2Client({ endpoint, region: 'us-east-1', credentials: keys, maxAttempts: 1 });
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
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

async function withStrata<T>(use: (ec2: EC2Client) => Promise<T>): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), 'strata-bench-'));
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(root, 'src/cli/strata.ts'),
      'serve',
      '--data-dir',
      dataDir,
      '--listen',
      `127.0.0.1:${port}`,
      '--hypervisor',
      'fake',
      '--log-level',
      'warn',
    ],
    {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        ...process.env,
        STRATA_ADMIN_ACCESS_KEY_ID: keys.accessKeyId,
        STRATA_ADMIN_SECRET_ACCESS_KEY: keys.secretAccessKey,
      },
    },
  );
  const ec2 = client(`http://127.0.0.1:${port}`);
  try {
    await waitReady(ec2, child, 'strata');
    return await use(ec2);
  } finally {
    ec2.destroy();
    await stop(child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function withMotoServer<T>(use: (ec2: EC2Client) => Promise<T>): Promise<T> {
  const port = await freePort();
  const child = spawn('moto_server', ['-p', String(port)], { stdio: 'ignore' });
  const ec2 = client(`http://127.0.0.1:${port}`);
  try {
    await waitReady(ec2, child, 'moto_server');
    return await use(ec2);
  } finally {
    ec2.destroy();
    await stop(child);
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000, undefined, { ref: false })]);
  if (child.exitCode === null) child.kill('SIGKILL');
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
