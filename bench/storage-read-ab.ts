// Interleaved A/B read benchmark, raw file vs plain volume, run by hand (robust on a shared, noisy machine):
//   node --import tsx bench/storage-read-ab.ts [--size-mib N] [--rounds N]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openPool } from '../src/storage/pool/pool.ts';
import { openRealDataFile } from '../src/storage/pool/data-file.ts';
import { Rng } from '../src/storage/pool/testing/workload.ts';

const MiB = 1024 * 1024;
const args = process.argv.slice(2);
const option = (name: string, fallback: number) =>
  args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback;
const size = option('--size-mib', 256) * MiB;
const rounds = option('--rounds', 3);

async function queue(
  count: number,
  depth: number,
  operation: (index: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: depth }, async () => {
      while (next < count) await operation(next++);
    }),
  );
  return (performance.now() - start) / 1000;
}

const dir = await mkdtemp(join(tmpdir(), 'strata-read-ab-'));
const pool = await openPool({ dir, capacityBytes: 4 * size });
const raw = await openRealDataFile(join(dir, 'raw'));
const chunk = randomBytes(MiB);
await pool.createVolume('vol-a', size);
for (let i = 0; i < size / MiB; i++) {
  await pool.write('vol-a', i * MiB, chunk);
  await raw.write(chunk, 0, MiB, i * MiB);
}
await pool.flush();
await raw.sync();
const read = {
  raw: (offset: number, length: number) => raw.read(Buffer.allocUnsafe(length), 0, length, offset),
  pool: (offset: number, length: number) => pool.read('vol-a', offset, length),
};
const best = { raw: { rand: 0, seq: 0 }, pool: { rand: 0, seq: 0 } };
for (let round = 0; round < rounds; round++) {
  for (const target of ['raw', 'pool'] as const) {
    const rng = new Rng(round);
    const randOps = 50_000;
    const rand =
      randOps / (await queue(randOps, 32, () => read[target](rng.int(0, size / 4096 - 1) * 4096, 4096)));
    const seqOps = (4 * size) / MiB;
    const seq = seqOps / (await queue(seqOps, 4, (i) => read[target]((i * MiB) % size, MiB)));
    best[target].rand = Math.max(best[target].rand, rand);
    best[target].seq = Math.max(best[target].seq, seq);
  }
}
console.log(`reads on ${size / MiB} MiB, best of ${rounds} interleaved rounds`);
console.log(
  `rand 4 KiB QD32: raw ${best.raw.rand.toFixed(0)} IOPS, volume ${best.pool.rand.toFixed(0)} IOPS, ratio ${(best.pool.rand / best.raw.rand).toFixed(2)}`,
);
console.log(
  `seq 1 MiB QD4:   raw ${best.raw.seq.toFixed(0)} MiB/s, volume ${best.pool.seq.toFixed(0)} MiB/s, ratio ${(best.pool.seq / best.raw.seq).toFixed(2)}`,
);
await pool.close();
await raw.close();
await rm(dir, { recursive: true, force: true });
