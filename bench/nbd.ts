// NBD benchmark, run by hand: node --import tsx bench/nbd.ts [--quick] [--json] [--profile] [--dir DIR]
//   [--only strata,qemu,nbdkit,qcow2] [--size-mib N] [--runtime SECONDS] [--repeat N]; STRATA_BENCH_STORE=memory serves
//   Strata from the in-memory double (the protocol's cost alone).
// Side by side in one run, on one file system: Strata (its own process, real pool), qemu-nbd serving a raw
// file, nbdkit file, and qemu-nbd serving a qcow2 overlay on a raw base. nbdcopy for sequential 1 GiB
// read/write; fio's nbd engine for 4 KiB random read/write at queue depth 32; random writes right after a
// snapshot (every first write copies) against the qcow2 overlay.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, copyFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const MiB = 1024 * 1024;
/** Where `--profile` leaves the Strata server's .cpuprofile files (open them in Chrome DevTools). */
export const PROFILE_DIR = join(tmpdir(), 'strata-nbd-profiles');

/** Options from the command line. */
export interface BenchOptions {
  readonly quick: boolean;
  readonly sizeBytes: number;
  readonly runtimeSeconds: number;
  readonly dir: string;
  readonly profile: boolean;
  /** Which servers to run: strata, qemu, nbdkit, qcow2. */
  readonly only: readonly string[];
  /** Interleaved rounds per workload; the table shows medians. */
  readonly repeat: number;
}

/** One measured number per server for a workload. */
export interface BenchRow {
  readonly workload: string;
  readonly unit: 'MiB/s' | 'IOPS';
  readonly results: Record<string, number>;
}

interface Target {
  readonly name: string;
  readonly uri: string;
  stop(): Promise<void>;
}

function parseArgs(argv: string[]): BenchOptions & { json: boolean } {
  const quick = argv.includes('--quick');
  const value = (flag: string): string | undefined => {
    const at = argv.indexOf(flag);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  const sizeMiB = Number(value('--size-mib') ?? (quick ? 64 : 1024));
  return {
    quick,
    json: argv.includes('--json'),
    profile: argv.includes('--profile'),
    sizeBytes: sizeMiB * MiB,
    runtimeSeconds: Number(value('--runtime') ?? (quick ? 1 : 5)),
    dir: value('--dir') ?? tmpdir(),
    only: (value('--only') ?? 'strata,qemu,nbdkit,qcow2').split(','),
    repeat: Number(value('--repeat') ?? (quick ? 1 : 3)),
  };
}

function exec(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${command} ${args.join(' ')}: ${err}`)),
    );
  });
}

async function waitForSocket(path: string, child: ChildProcess): Promise<void> {
  for (let tries = 0; tries < 200; tries++) {
    if (child.exitCode !== null) throw new Error(`${child.spawnfile} exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ path }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing listens on ${path}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

async function startExternal(name: string, command: string, args: string[], socket: string): Promise<Target> {
  // stderr is dropped: the readiness probe's hang-ups make them complain about broken pipes.
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'ignore'] });
  await waitForSocket(socket, child);
  return { name, uri: `nbd+unix:///?socket=${socket}`, stop: () => stopChild(child) };
}

async function startStrata(
  options: BenchOptions,
  dir: string,
): Promise<Target & { snapshot(): Promise<void> }> {
  const nodeArgs = ['--import', 'tsx'];
  // Profiles go to the temp dir, never into the checkout.
  if (options.profile) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`);
  const script = join(import.meta.dirname, 'nbd-strata-server.ts');
  // The thread-pool size bin/strata gives the daemon (4; 16 measured slower on 2 cores), unless overridden.
  const env = { ...process.env, UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '4' };
  const child = spawn(process.execPath, [...nodeArgs, script, dir, String(options.sizeBytes)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env,
  });
  const lines = createInterface({ input: child.stdout! });
  const iterator = lines[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done) throw new Error('strata server exited before it was ready');
  const ready = JSON.parse(first.value) as { socket: string; volume: string };
  return {
    name: 'strata',
    uri: `nbd+unix:///${ready.volume}?socket=${ready.socket}`,
    async snapshot() {
      child.stdin!.write('snapshot\n');
      const answer = await iterator.next();
      if (answer.value !== 'ok') throw new Error('snapshot failed');
    },
    async stop() {
      child.stdin!.end();
      await once(child, 'exit');
    },
  };
}

async function writeSource(path: string, sizeBytes: number): Promise<void> {
  const block = randomBytes(16 * MiB);
  const out = createWriteStream(path);
  for (let written = 0; written < sizeBytes; written += block.length) {
    const piece = block.subarray(0, Math.min(block.length, sizeBytes - written));
    // Vary every block so no server can dedupe or compress the stream.
    piece.writeUInt32LE(written / MiB, 0);
    if (!out.write(Buffer.from(piece))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function seconds(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function fio(uri: string, rw: 'randread' | 'randwrite', options: BenchOptions): Promise<number> {
  const output = await exec('fio', [
    '--name=bench',
    '--ioengine=nbd',
    `--uri=${uri}`,
    `--rw=${rw}`,
    '--bs=4k',
    '--iodepth=32',
    `--size=${options.sizeBytes}`,
    '--time_based',
    `--runtime=${options.runtimeSeconds}`,
    '--norandommap',
    '--randrepeat=0',
    '--output-format=json',
  ]);
  const result = JSON.parse(output.slice(output.indexOf('{'))) as {
    jobs: { read: { iops: number }; write: { iops: number } }[];
  };
  const job = result.jobs[0]!;
  return Math.round(rw === 'randread' ? job.read.iops : job.write.iops);
}

type Workload = {
  readonly name: string;
  readonly unit: BenchRow['unit'];
  run(target: Target): Promise<number>;
};

function workloads(source: string, options: BenchOptions): Workload[] {
  const mib = options.sizeBytes / MiB;
  return [
    {
      name: `seq write ${mib} MiB (nbdcopy)`,
      unit: 'MiB/s',
      run: async (t) =>
        Math.round(mib / (await seconds(() => exec('nbdcopy', ['--no-extents', source, t.uri])))),
    },
    {
      name: `seq read ${mib} MiB (nbdcopy)`,
      unit: 'MiB/s',
      run: async (t) =>
        Math.round(mib / (await seconds(() => exec('nbdcopy', ['--no-extents', t.uri, 'null:'])))),
    },
    { name: '4K rand read QD32 (fio)', unit: 'IOPS', run: (t) => fio(t.uri, 'randread', options) },
    { name: '4K rand write QD32 (fio)', unit: 'IOPS', run: (t) => fio(t.uri, 'randwrite', options) },
  ];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

// Servers take turns on each workload, round after round, so load from elsewhere hits them alike.
async function interleave(targets: Target[], list: Workload[], repeat: number): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const workload of list) {
    const samples = new Map<string, number[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < repeat; round++) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const target of order) {
        // Write back every dirty page first, so one server's writes never throttle the next one's sample.
        await exec('sync', []);
        samples.get(target.name)!.push(await workload.run(target));
      }
    }
    const results: Record<string, number> = {};
    for (const [name, values] of samples) results[name] = median(values);
    rows.push({ workload: workload.name, unit: workload.unit, results });
  }
  return rows;
}

// Random writes right after a snapshot: Strata snapshots its (full) volume; qemu gets a fresh qcow2 overlay
// over a raw base holding the same data. Every round starts fresh, so every first write copies.
async function afterSnapshot(
  dir: string,
  source: string,
  options: BenchOptions,
  strata: (Target & { snapshot(): Promise<void> }) | null,
): Promise<BenchRow> {
  const samples: Record<string, number[]> = { strata: [], 'qemu-nbd qcow2 overlay': [] };
  const base = join(dir, 'base.raw');
  if (options.only.includes('qcow2')) await copyFile(source, base);
  for (let round = 0; round < options.repeat; round++) {
    if (strata) {
      await strata.snapshot();
      samples.strata!.push(await fio(strata.uri, 'randwrite', options));
    }
    if (!options.only.includes('qcow2')) continue;
    const overlay = join(dir, `overlay-${round}.qcow2`);
    await exec('qemu-img', ['create', '-f', 'qcow2', '-F', 'raw', '-b', base, overlay]);
    const socket = join(dir, `qcow-${round}.sock`);
    const args = ['--persistent', '--shared=8', '--discard=unmap', '-k', socket, '-f', 'qcow2', overlay];
    const qcow = await startExternal('qemu-nbd qcow2 overlay', 'qemu-nbd', args, socket);
    samples['qemu-nbd qcow2 overlay']!.push(
      await fio(qcow.uri, 'randwrite', options).finally(() => qcow.stop()),
    );
    await rm(overlay);
  }
  const results: Record<string, number> = {};
  for (const [name, values] of Object.entries(samples)) if (values.length > 0) results[name] = median(values);
  return { workload: '4K rand write after snapshot', unit: 'IOPS', results };
}

/** Runs the whole benchmark; returns its rows (medians over `repeat` interleaved rounds). */
export async function runBench(options: BenchOptions): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(options.dir, 'strata-nbd-bench-'));
  const targets: Target[] = [];
  try {
    const source = join(dir, 'source.raw');
    await writeSource(source, options.sizeBytes);
    let strata: (Target & { snapshot(): Promise<void> }) | null = null;
    if (options.only.includes('strata')) {
      strata = await startStrata(options, dir);
      targets.push(strata);
    }
    if (options.only.includes('qemu')) {
      const raw = join(dir, 'qemu.raw');
      const socket = join(dir, 'qemu.sock');
      await exec('qemu-img', ['create', '-f', 'raw', raw, String(options.sizeBytes)]);
      const args = ['--persistent', '--shared=8', '--discard=unmap', '-k', socket, '-f', 'raw', raw];
      targets.push(await startExternal('qemu-nbd raw', 'qemu-nbd', args, socket));
    }
    if (options.only.includes('nbdkit')) {
      const raw = join(dir, 'nbdkit.raw');
      const socket = join(dir, 'nbdkit.sock');
      await exec('qemu-img', ['create', '-f', 'raw', raw, String(options.sizeBytes)]);
      const args = ['--foreground', '--unix', socket, 'file', `file=${raw}`];
      targets.push(await startExternal('nbdkit file', 'nbdkit', args, socket));
    }
    const rows = await interleave(targets, workloads(source, options), options.repeat);
    rows.push(await afterSnapshot(dir, source, options, strata));
    return rows;
  } finally {
    for (const target of targets) await target.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Formats the rows as a table with Strata's ratios and the targets. */
export function formatTable(rows: BenchRow[]): string {
  const ratio = (a: number | undefined, b: number | undefined): string =>
    a && b ? `${(a / b).toFixed(2)}x` : '-';
  const lines = [
    '| workload | unit | strata | qemu-nbd raw | nbdkit file | qemu-nbd qcow2 overlay | strata/qemu-nbd | strata/nbdkit | target |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const row of rows) {
    const r = row.results;
    const afterSnapshot = row.workload.includes('after snapshot');
    const target = afterSnapshot
      ? '>= 1.0x qcow2'
      : row.unit === 'MiB/s'
        ? '>= 1.0x qemu-nbd'
        : '>= 0.8x qemu-nbd';
    const versusQemu = afterSnapshot
      ? ratio(r.strata, r['qemu-nbd qcow2 overlay'])
      : ratio(r.strata, r['qemu-nbd raw']);
    const cells = [r.strata, r['qemu-nbd raw'], r['nbdkit file'], r['qemu-nbd qcow2 overlay']].map((v) =>
      v === undefined ? '-' : String(v),
    );
    lines.push(
      `| ${row.workload} | ${row.unit} | ${cells.join(' | ')} | ${versusQemu} | ${ratio(r.strata, r['nbdkit file'])} | ${target} |`,
    );
  }
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const options = parseArgs(process.argv.slice(2));
  const rows = await runBench(options);
  console.log(options.json ? JSON.stringify(rows, null, 2) : formatTable(rows));
  if (options.profile) console.error(`CPU profiles of the Strata server: ${PROFILE_DIR}`);
}
