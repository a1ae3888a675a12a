// CLI start-up benchmark, run by hand:
//   node --import tsx bench/cli.ts [--runs N] [--strata PATH] [--quick]
// Runs bin/strata as a user does and reports the median of N runs (default 10; --quick: 2) for:
// - `strata --help`, `strata --version` and `strata nbd-uri ID`: wall time, CPU time and peak RSS, from
//   /usr/bin/time when it is installed (apt package `time`), else wall time alone; and `node -e 0`, the
//   floor no Node program starts below, so that a run on a loaded machine can still be read;
// - `strata serve --hypervisor fake` on an existing data dir: wall time from spawn to its "listening" log
//   line (the API and NBD sockets are open then), and its RSS at that moment.
// `--strata PATH` measures another checkout's bin/strata, e.g. an older one for a before/after ratio.
// Targets (issue 20): --help and nbd-uri under 150 ms, serve ready under 1 s.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CreateVolumeCommand, EC2Client } from '@aws-sdk/client-ec2';
import { freeLocalPort } from '../src/base/free-port.ts';

const { values } = parseArgs({
  options: { runs: { type: 'string' }, strata: { type: 'string' }, quick: { type: 'boolean' } },
});
const runs = Number(values.runs ?? (values.quick === true ? 2 : 10));
const strataBin = values.strata ?? fileURLToPath(new URL('../bin/strata', import.meta.url));
const timeBin = '/usr/bin/time';
// A hang guard, not a target: a first start on a loaded machine can take tens of seconds.
const serveReadyMsMax = 90_000;

/** One run of a command: wall time, and CPU time and peak RSS when /usr/bin/time measured them. */
interface Sample {
  wallMs: number;
  cpuMs?: number;
  rssMiB?: number;
}

function median(numbers: number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function runOnce(program: string, args: string[], work: string): Promise<Sample> {
  const measured = existsSync(timeBin);
  const report = join(work, 'time.txt');
  const [command, commandArgs] = measured
    ? [timeBin, ['-o', report, '-f', '%U %S %M', program, ...args]]
    : [program, args];
  const startedMs = performance.now();
  const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const wallMs = performance.now() - startedMs;
  if (status !== 0) throw new Error(`${program} ${args.join(' ')} exited ${status}: ${output}`);
  if (!measured) return { wallMs };
  const [userS, systemS, rssKiB] = readFileSync(report, 'utf8')
    .trim()
    .split('\n')
    .at(-1)!
    .split(' ')
    .map(Number);
  return { wallMs, cpuMs: (userS! + systemS!) * 1000, rssMiB: rssKiB! / 1024 };
}

// Spawns the daemon and resolves at its first sign of answering with the time and RSS, then stops it. That
// sign is the "listening" log line (on stderr), which comes a few ms before the ready block (on stdout) and
// is the one an older strata prints too; SIGTERM may then beat the signal handlers, so that exit counts.
async function serveOnce(dataDir: string, whileUp?: (endpoint: string) => Promise<void>): Promise<Sample> {
  const listen = `127.0.0.1:${await freeLocalPort()}`;
  const args = ['serve', '--data-dir', dataDir, '--listen', listen, '--hypervisor', 'fake'];
  const startedMs = performance.now();
  const child = spawn(strataBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<[number | null, string | null]>((resolve) =>
    child.on('close', (code, signal) => resolve([code, signal])),
  );
  let log = '';
  const sample = await new Promise<Sample>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`not ready in ${serveReadyMsMax} ms: ${log}`)),
      serveReadyMsMax,
    );
    const watch = (chunk: Buffer): void => {
      log += chunk.toString();
      if (!/listening on|strata is ready/.test(log)) return;
      clearTimeout(timer);
      const wallMs = performance.now() - startedMs;
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      resolve({ wallMs, rssMiB: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024 });
    };
    child.stdout.on('data', watch);
    child.stderr.on('data', watch);
    child.on('close', (code) => reject(new Error(`strata serve exited ${code} before it was ready: ${log}`)));
  });
  await whileUp?.(`http://${listen}`);
  child.kill('SIGTERM');
  const [code, signal] = await exited;
  if (code !== 0 && signal !== 'SIGTERM') throw new Error(`strata serve exited ${code} on SIGTERM: ${log}`);
  return sample;
}

// A 1 GiB volume, made with the admin keys the daemon wrote, through the EC2 API as a user makes one.
async function createVolume(dataDir: string, endpoint: string): Promise<string> {
  const credentials = readFileSync(join(dataDir, 'credentials'), 'utf8');
  const accessKeyId = /^aws_access_key_id = (.+)$/m.exec(credentials)?.[1] ?? '';
  const secretAccessKey = /^aws_secret_access_key = (.+)$/m.exec(credentials)?.[1] ?? '';
  const ec2 = new EC2Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey } });
  try {
    const created = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }));
    return created.VolumeId ?? '';
  } finally {
    ec2.destroy();
  }
}

function row(name: string, samples: Sample[], targetMs: number): string {
  const wallMs = median(samples.map((s) => s.wallMs));
  const cpu = samples.every((s) => s.cpuMs !== undefined)
    ? median(samples.map((s) => s.cpuMs!)).toFixed(0)
    : '-';
  const rss = samples.every((s) => s.rssMiB !== undefined)
    ? median(samples.map((s) => s.rssMiB!)).toFixed(0)
    : '-';
  const verdict = wallMs < targetMs ? 'ok' : 'OVER';
  return `  ${name.padEnd(22)} ${wallMs.toFixed(0).padStart(7)} ${cpu.padStart(7)} ${rss.padStart(8)}   < ${targetMs} ms ${verdict}`;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'strata-bench-cli-'));
  try {
    const dataDir = join(work, 'data');
    // The first start creates the data dir (database, pool, keys) and a volume for nbd-uri to look up; the
    // timed starts reopen it.
    let volumeId = '';
    await serveOnce(dataDir, async (endpoint) => {
      volumeId = await createVolume(dataDir, endpoint);
    });
    // The floor: Node itself starting and exiting, on this machine at this load.
    const commands: [string, string, string[], number][] = [
      ['node -e 0 (floor)', process.execPath, ['-e', '0'], 150],
      ['strata --help', strataBin, ['--help'], 150],
      ['strata --version', strataBin, ['--version'], 150],
      ['strata nbd-uri ID', strataBin, ['nbd-uri', volumeId, '--data-dir', dataDir], 150],
    ];
    console.log(
      `CLI start-up, median of ${runs} runs: ${strataBin} (load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]})`,
    );
    console.log(
      `  ${'command'.padEnd(22)} ${'wall ms'.padStart(7)} ${'cpu ms'.padStart(7)} ${'rss MiB'.padStart(8)}   target`,
    );
    for (const [name, program, args, targetMs] of commands) {
      const samples: Sample[] = [];
      try {
        for (let run = 0; run < runs; run += 1) samples.push(await runOnce(program, args, work));
        console.log(row(name, samples, targetMs));
      } catch (error) {
        // An older strata may lack a verb (--version): say so and measure the rest.
        console.log(`  ${name.padEnd(22)} failed: ${String(error).split('\n')[0]}`);
      }
    }
    const serveSamples: Sample[] = [];
    for (let run = 0; run < runs; run += 1) serveSamples.push(await serveOnce(dataDir));
    console.log(row('strata serve (ready)', serveSamples, 1000));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
