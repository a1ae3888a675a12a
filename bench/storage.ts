// Block store benchmark, run by hand:
//   node --import tsx bench/storage.ts [--quick] [--skip-16g] [--dir DIR] [--extent BYTES] [--throughput-only]
// Prints tables: snapshot/clone latency vs data written, 1000 clones of a golden image, and read/write
// throughput on a plain volume, a freshly snapshotted one and a 10th-generation clone, each against raw file I/O.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openPool, type Pool } from '../src/storage/pool/pool.ts';
import { openRealDataFile, type DataFile } from '../src/storage/pool/data-file.ts';
import { Rng } from '../src/storage/pool/testing/workload.ts';
import { limits } from '../src/base/limits.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const skipHuge = quick || args.includes('--skip-16g');
const dirArg = args.indexOf('--dir');
const base = dirArg >= 0 ? args[dirArg + 1]! : tmpdir();
const extentArg = args.indexOf('--extent');
const extentBytes = extentArg >= 0 ? Number(args[extentArg + 1]) : undefined;
const only = args.includes('--throughput-only') ? 'throughput' : 'all';
const chunk = randomBytes(MiB);

function table(title: string, header: string[], rows: (string | number)[][]): void {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  console.log(`\n${title}`);
  for (const [index, row] of cells.entries()) {
    console.log(row.map((c, i) => c.padStart(widths[i]!)).join('  '));
    if (index === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

const ms = (ns: bigint) => Number(ns) / 1e6;
const fmt = (n: number, digits = 2) => n.toFixed(digits);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await run();
  return ms(process.hrtime.bigint() - start);
}

/** Runs `count` operations with at most `depth` in flight. */
async function queue(
  count: number,
  depth: number,
  operation: (index: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await operation(next++);
  };
  await Promise.all(Array.from({ length: Math.min(depth, count) }, worker));
}

/** Writes `bytes` sequentially, flushes, and lets background commits and writeback settle. */
async function fill(pool: Pool, id: string, bytes: number): Promise<void> {
  await queue(bytes / MiB, 8, (i) => pool.write(id, i * MiB, chunk));
  await pool.flush();
  await new Promise((resolve) => setTimeout(resolve, quick ? 50 : limits.storageCommitIntervalMs + 500));
}

async function withPool<T>(name: string, run: (pool: Pool, dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(base, `strata-bench-${name}-`));
  const pool = await openPool({ dir, capacityBytes: 64 * GiB, extentBytes });
  try {
    return await run(pool, dir);
  } finally {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function snapshotLatency(): Promise<void> {
  const sizes = quick
    ? [64 * MiB, 256 * MiB]
    : skipHuge
      ? [64 * MiB, 1 * GiB]
      : [64 * MiB, 1 * GiB, 16 * GiB];
  const rows: (string | number)[][] = [];
  let smallest = { snapshot: 0, clone: 0 };
  for (const size of sizes) {
    await withPool('snap', async (pool) => {
      await pool.createVolume('vol-b', size);
      await fill(pool, 'vol-b', size);
      const snapshotMs: number[] = [];
      const cloneMs: number[] = [];
      const rowsBefore = pool.metaStats().rowsWritten;
      for (let i = 0; i < 7; i++) {
        snapshotMs.push(await timed(() => pool.snapshot('vol-b', `snap-${i}`)));
        cloneMs.push(await timed(() => pool.clone(`snap-${i}`, `vol-c${i}`)));
        await pool.write('vol-b', i * 4096, chunk.subarray(0, 4096));
      }
      const rowsPerSnapshot = (pool.metaStats().rowsWritten - rowsBefore) / 7;
      const latency = { snapshot: median(snapshotMs), clone: median(cloneMs) };
      if (rows.length === 0) smallest = latency;
      rows.push([
        `${size / MiB} MiB`,
        fmt(latency.snapshot),
        fmt(latency.snapshot / smallest.snapshot),
        fmt(latency.clone),
        fmt(latency.clone / smallest.clone),
        fmt(rowsPerSnapshot, 1),
      ]);
    });
  }
  const header = ['written', 'snapshot ms', 'ratio', 'clone ms', 'ratio', 'meta rows/(snap+clone+4K write)'];
  table('Snapshot and clone latency vs data written (median of 7; ratio vs the smallest)', header, rows);
}

async function goldenClones(): Promise<void> {
  const clones = quick ? 100 : 1000;
  const golden = quick ? 16 * MiB : 64 * MiB;
  await withPool('golden', async (pool, dir) => {
    await pool.createVolume('vol-golden', golden);
    await fill(pool, 'vol-golden', golden);
    await pool.snapshot('vol-golden', 'snap-golden');
    const used = pool.usage().usedBytes;
    const metaBytes = async () =>
      (await stat(join(dir, 'meta.db'))).size + (await stat(join(dir, 'meta.db-wal'))).size;
    const metaBefore = await metaBytes();
    const total = await timed(async () => {
      for (let i = 0; i < clones; i++) await pool.clone('snap-golden', `vol-${i}`);
    });
    const perClone = (pool.usage().usedBytes - used) / clones;
    const metaPerClone = ((await metaBytes()) - metaBefore) / clones;
    table(
      `${clones} clones of one golden snapshot (${golden / MiB} MiB written)`,
      ['total ms', 'ms/clone', 'pool bytes/clone', 'meta file bytes/clone'],
      [[fmt(total, 0), fmt(total / clones), fmt(perClone, 0), fmt(metaPerClone, 0)]],
    );
  });
}

interface Target {
  read(offset: number, length: number): Promise<unknown>;
  write(offset: number, data: Buffer): Promise<unknown>;
  sync(): Promise<unknown>;
}

/** MB/s of one pattern on one target. */
async function throughput(
  target: Target,
  size: number,
  pattern: 'seq' | 'rand',
  kind: 'read' | 'write',
): Promise<number> {
  const rng = new Rng(42);
  const block = pattern === 'seq' ? MiB : 4096;
  const count = pattern === 'seq' ? size / MiB : Math.min(quick ? 4000 : 40_000, size / 4096);
  const depth = pattern === 'seq' ? 4 : 32;
  const slots = size / block;
  const data = chunk.subarray(0, block);
  await target.sync();
  // Writes count until durable (fsync / flush): page-cache-only write speed says nothing about a disk.
  const elapsed = await timed(async () => {
    await queue(count, depth, (i) => {
      const offset = (pattern === 'seq' ? i : rng.int(0, slots - 1)) * block;
      return kind === 'read' ? target.read(offset, block) : target.write(offset, data);
    });
    if (kind === 'write') await target.sync();
  });
  return (count * block) / MiB / (elapsed / 1000);
}

function rawTarget(file: DataFile): Target {
  return {
    read: (offset, length) => file.read(Buffer.allocUnsafe(length), 0, length, offset),
    write: (offset, data) => file.write(data, 0, data.length, offset),
    sync: () => file.sync(),
  };
}

function volumeTarget(pool: Pool, id: string): Target {
  return {
    read: (offset, length) => pool.read(id, offset, length),
    write: (offset, data) => pool.write(id, offset, data),
    sync: () => pool.flush(),
  };
}

/** Reads: best of two runs (the machine is shared; the better run is closer to the cost of the code). */
async function measure(
  target: Target,
  size: number,
  pattern: 'seq' | 'rand',
  kind: 'read' | 'write',
): Promise<number> {
  const first = await throughput(target, size, pattern, kind);
  return kind === 'write' ? first : Math.max(first, await throughput(target, size, pattern, kind));
}

/** MB/s of writes to a new sparse file (the physical limit for first writes, which allocate). */
async function freshRaw(path: string, size: number, pattern: 'seq' | 'rand'): Promise<number> {
  const file = await openRealDataFile(path);
  try {
    return await throughput(rawTarget(file), size, pattern, 'write');
  } finally {
    await file.close();
    await rm(path, { force: true });
  }
}

async function throughputTable(): Promise<void> {
  const size = quick ? 32 * MiB : 1 * GiB;
  await withPool('io', async (pool, dir) => {
    const raw = await openRealDataFile(join(dir, 'raw'));
    await queue(size / MiB, 8, (i) => raw.write(chunk, 0, MiB, i * MiB));
    await raw.sync();
    await pool.createVolume('vol-plain', size);
    await fill(pool, 'vol-plain', size);
    // The clone chain starts from its own volume, so vol-plain never has a snapshot until "after-snap".
    await pool.createVolume('vol-chain', size);
    await fill(pool, 'vol-chain', size);
    let parent = 'vol-chain';
    for (let gen = 1; gen <= 10; gen++) {
      await pool.snapshot(parent, `snap-g${gen}`);
      await pool.clone(`snap-g${gen}`, `vol-g${gen}`);
      await pool.write(`vol-g${gen}`, gen * pool.extentBytes, chunk.subarray(0, 4096));
      parent = `vol-g${gen}`;
    }
    const rows: (string | number)[][] = [];
    const cases: [string, 'seq' | 'rand', 'read' | 'write'][] = [
      ['seq 1 MiB read QD4', 'seq', 'read'],
      ['rand 4 KiB read QD32', 'rand', 'read'],
      ['seq 1 MiB write QD4', 'seq', 'write'],
      ['rand 4 KiB write QD32', 'rand', 'write'],
    ];
    for (const [name, pattern, kind] of cases) {
      const rawMBs = await measure(rawTarget(raw), size, pattern, kind);
      // First writes allocate file space, which costs far more than overwriting: compare them with a fresh file.
      const fresh = kind === 'write' ? await freshRaw(join(dir, 'fresh'), size, pattern) : rawMBs;
      const plain = await measure(volumeTarget(pool, 'vol-plain'), size, pattern, kind);
      let snapped = plain;
      if (kind === 'write') {
        await pool.snapshot('vol-plain', `snap-${pattern}`);
        snapped = await measure(volumeTarget(pool, 'vol-plain'), size, pattern, kind);
      }
      const clone = await measure(volumeTarget(pool, 'vol-g10'), size, pattern, kind);
      const ratios = [
        plain / rawMBs,
        snapped / rawMBs,
        snapped / fresh,
        clone / rawMBs,
        clone / fresh,
        clone / plain,
      ];
      rows.push([name, fmt(rawMBs, 0), fmt(fresh, 0), fmt(plain, 0), ...ratios.map((r) => fmt(r))]);
    }
    await raw.close();
    const header = ['pattern', 'raw MB/s', 'fresh MB/s', 'plain MB/s', 'plain/raw', 'snap/raw', 'snap/fresh'];
    header.push('gen10/raw', 'gen10/fresh', 'gen10/plain');
    const title = `Throughput on ${size / MiB} MiB, writes until durable. raw: overwrite of a written file; fresh: first
writes to an empty file; snap: first writes after a snapshot (copy); gen10: 10th-generation clone (reads through)`;
    table(title, header, rows);
  });
}

const settings = `extent ${extentBytes ?? limits.extentBytesDefault} bytes, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 'default'}`;
const load = loadavg()
  .map((l) => l.toFixed(1))
  .join(' ');
console.log(`strata block store benchmark${quick ? ' (--quick)' : ''}, ${settings}, load average ${load}`);
if (only === 'all') {
  await snapshotLatency();
  await goldenClones();
}
await throughputTable();
