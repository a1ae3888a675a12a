// The two targets the API benchmarks drive with the same client workload: `strata serve` in its own process
// (fresh data dir) and moto_server. Used by bench/api.ts and bench/ebs-clones.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { DescribeVolumesCommand, EC2Client } from '@aws-sdk/client-ec2';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const keys = {
  accessKeyId: 'AKIABENCHMARK0000001',
  secretAccessKey: 'benchmark-secret-key-0000000000000000000',
};

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

/** Whether moto_server is on PATH (the side-by-side runs are skipped without it). */
export function motoAvailable(): boolean {
  return (process.env.PATH ?? '')
    .split(':')
    .some((dir) => dir !== '' && existsSync(join(dir, 'moto_server')));
}

/** Runs `use` against a fresh `strata serve` (fake hypervisor); `dataDir` is its data directory. */
export async function withStrata<T>(use: (ec2: EC2Client, dataDir: string) => Promise<T>): Promise<T> {
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
    return await use(ec2, dataDir);
  } finally {
    ec2.destroy();
    await stop(child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Runs `use` against a fresh moto_server. */
export async function withMotoServer<T>(use: (ec2: EC2Client) => Promise<T>): Promise<T> {
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

/** The `p`th percentile of sorted numbers. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
