// Snapshot archive benchmark, run by hand:
//   node --import tsx bench/archive.ts [--quick] [--s3]
// Into a directory store (--s3: s3rver on 127.0.0.1 instead), with a fully written volume of 1 GiB
// (--quick: 64 MiB) of distinct chunks, measures:
// - full archive throughput vs a plain copy of the same bytes (pool read + sequential file write + fsync)
//   to the same destination: the ratio is the price of chunking, hashing and per-object durability;
// - incremental archive time with 1% of the volume changed (scattered 64 KiB writes);
// - restore throughput into a fresh pool, hashes verified (best of two);
// - lazy restore into a fresh pool (objectstore/lazy-restore/): time to the first 4 KiB read of a new
//   volume and the latency of first reads of unfetched chunks (hydration held back), then full-hydration
//   throughput with no rate limit (best of two, alternating with the restore), as a ratio to the eager restore.
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { limits, units } from '../src/base/limits.ts';
import { silentLogger } from '../src/base/log.ts';
import type { BlockStore } from '../src/storage/block-store.ts';
import { archiveSnapshot } from '../src/objectstore/archiver.ts';
import { openDirStore } from '../src/objectstore/dir/dir-store.ts';
import { openLazyRestoreStore, type LazyRestoreStore } from '../src/objectstore/lazy-restore/lazy-store.ts';
import { restoreSnapshot } from '../src/objectstore/restorer.ts';
import { openS3Store } from '../src/objectstore/s3/s3-store.ts';
import type { SnapshotStore } from '../src/objectstore/snapshot-store.ts';
import { startTestS3Server } from '../src/objectstore/testing/s3-server.ts';
import { scatterWrites, seededRandom, tempDir, tempPool } from '../src/objectstore/testing/pools.ts';

const quick = process.argv.includes('--quick');
const useS3 = process.argv.includes('--s3');
const volumeBytes = quick ? 64 * units.MiB : units.GiB;
const chunkBytes = limits.ebsBlockBytes;

function mibPerSecond(bytes: number, ms: number): string {
  return (bytes / units.MiB / (ms / 1000)).toFixed(1);
}

/** Fills the volume with distinct chunks: one random buffer, stamped with the chunk index. */
async function fill(store: BlockStore, volumeId: string): Promise<void> {
  const pattern = randomBytes(4 * units.MiB);
  for (let offset = 0; offset < volumeBytes; offset += pattern.length) {
    for (let at = 0; at < pattern.length; at += chunkBytes) pattern.writeDoubleLE(offset + at, at);
    await store.write(volumeId, offset, pattern);
  }
  await store.flush();
}

/** The baseline: the same bytes read from the pool and written to one file in the destination. */
async function plainCopy(store: BlockStore, snapshotId: string, destination: string): Promise<number> {
  const started = performance.now();
  const handle = await open(join(destination, 'plain-copy.raw'), 'w');
  for (let offset = 0; offset < volumeBytes; offset += 4 * units.MiB) {
    await handle.write(await store.read(snapshotId, offset, 4 * units.MiB), 0, 4 * units.MiB, offset);
  }
  await handle.sync();
  await handle.close();
  return performance.now() - started;
}

/** Milliseconds to restore every chunk into a fresh pool, then flush. */
async function eagerRestore(target: SnapshotStore, snapshotId: string): Promise<number> {
  const fresh = await tempPool();
  try {
    const started = performance.now();
    await restoreSnapshot({ source: target, snapshotId, store: fresh.store, volumeId: 'vol-restored' });
    return performance.now() - started;
  } finally {
    await fresh.dispose();
  }
}

/** Milliseconds to a 4 KiB read of a volume made from the archived snapshot in a fresh pool, and 32 first reads. */
async function lazyFirstReads(
  target: SnapshotStore,
  snapshotId: string,
): Promise<{ firstMs: number; reads: number[] }> {
  return withLazyPool(target, 1, async (lazy) => {
    const random = seededRandom(11);
    const started = performance.now();
    await lazy.adoptArchived(snapshotId);
    await lazy.clone(snapshotId, 'vol-lazy');
    await lazy.read('vol-lazy', volumeBytes / 2, 4096);
    const firstMs = performance.now() - started;
    const reads: number[] = [];
    for (let i = 0; i < 32; i++) {
      const offset = Math.floor(random() * (volumeBytes / 4096)) * 4096;
      const begun = performance.now();
      await lazy.read('vol-lazy', offset, 4096);
      reads.push(performance.now() - begun);
    }
    return { firstMs, reads: reads.sort((a, b) => a - b) };
  });
}

/** Milliseconds from CreateVolume (adopt + clone) to a fully hydrated volume, with no rate limit. */
async function lazyHydration(target: SnapshotStore, snapshotId: string): Promise<number> {
  return withLazyPool(target, Number.MAX_SAFE_INTEGER, async (lazy) => {
    const started = performance.now();
    await lazy.adoptArchived(snapshotId);
    await lazy.clone(snapshotId, 'vol-lazy');
    await lazy.hydrated('vol-lazy');
    if (lazy.isLazy('vol-lazy')) throw new Error('hydration did not finish');
    return performance.now() - started;
  });
}

async function withLazyPool<T>(
  target: SnapshotStore,
  hydrationBytesPerSecond: number,
  use: (lazy: LazyRestoreStore) => Promise<T>,
): Promise<T> {
  const fresh = await tempPool();
  const records = await tempDir('strata-bench-lazy-');
  const lazy = await openLazyRestoreStore({
    inner: fresh.store,
    source: target,
    recordsPath: join(records.path, 'lazy-restore.json'),
    logger: silentLogger,
    hydrationBytesPerSecond,
  });
  try {
    return await use(lazy);
  } finally {
    await lazy.close();
    await fresh.dispose();
    await records.dispose();
  }
}

/** What the bench measured. */
interface Figures {
  readonly copyMs: number;
  readonly archiveMs: number;
  readonly fullChunks: number;
  readonly incrementalMs: number;
  readonly incrementalChunks: number;
  readonly restoreMs: number;
  readonly hydrateMs: number;
  readonly lazyReads: { firstMs: number; reads: number[] };
}

async function measure(store: BlockStore, target: SnapshotStore, scratchPath: string): Promise<Figures> {
  await store.createVolume('vol-bench', volumeBytes);
  await fill(store, 'vol-bench');
  await store.snapshot('vol-bench', 'snap-full');
  const copyMs = await plainCopy(store, 'snap-full', scratchPath);
  let started = performance.now();
  const full = await archiveSnapshot({ store, snapshotId: 'snap-full', target });
  const archiveMs = performance.now() - started;
  await scatterWrites(
    store,
    'vol-bench',
    seededRandom(7),
    Math.round((volumeBytes * 0.01) / (64 * units.KiB)),
    64 * units.KiB,
  );
  await store.snapshot('vol-bench', 'snap-incr');
  started = performance.now();
  const incremental = await archiveSnapshot({
    store,
    snapshotId: 'snap-incr',
    parentSnapshotId: 'snap-full',
    target,
  });
  const incrementalMs = performance.now() - started;
  // Eager restore and lazy hydration alternate, twice each, and the best of each counts: neither gets
  // the page cache the other warmed.
  const restores: number[] = [];
  const hydrations: number[] = [];
  for (let round = 0; round < 2; round++) {
    restores.push(await eagerRestore(target, 'snap-incr'));
    hydrations.push(await lazyHydration(target, 'snap-incr'));
  }
  return {
    copyMs,
    archiveMs,
    fullChunks: full.chunksUploaded,
    incrementalMs,
    incrementalChunks: incremental.chunksUploaded,
    restoreMs: Math.min(...restores),
    hydrateMs: Math.min(...hydrations),
    lazyReads: await lazyFirstReads(target, 'snap-incr'),
  };
}

function report(figures: Figures, where: string): void {
  const { copyMs, archiveMs, incrementalMs, restoreMs, hydrateMs, lazyReads } = figures;
  console.log(
    `Snapshot archive (${volumeBytes / units.MiB} MiB volume, ${where}, ${limits.archiveChunksInFlight} chunks in flight)`,
  );
  console.log(
    `  plain copy            ${copyMs.toFixed(0).padStart(8)} ms  ${mibPerSecond(volumeBytes, copyMs)} MiB/s`,
  );
  console.log(
    `  full archive          ${archiveMs.toFixed(0).padStart(8)} ms  ${mibPerSecond(volumeBytes, archiveMs)} MiB/s  (${figures.fullChunks} chunks)`,
  );
  console.log(`  archive / copy time   ${(archiveMs / copyMs).toFixed(2).padStart(8)} x`);
  console.log(
    `  incremental 1%        ${incrementalMs.toFixed(0).padStart(8)} ms  (${figures.incrementalChunks} chunks sent)`,
  );
  console.log(
    `  restore               ${restoreMs.toFixed(0).padStart(8)} ms  ${mibPerSecond(volumeBytes, restoreMs)} MiB/s`,
  );
  const quantile = (q: number): number =>
    lazyReads.reads[Math.floor(q * (lazyReads.reads.length - 1))] ?? NaN;
  const [p50, p99] = [quantile(0.5), quantile(0.99)];
  console.log(
    `  lazy first 4K read    ${lazyReads.firstMs.toFixed(1).padStart(8)} ms  (${(lazyReads.firstMs / restoreMs).toFixed(4)} x the restore)`,
  );
  console.log(
    `  lazy unfetched reads  ${p50.toFixed(1).padStart(8)} ms p50  ${p99.toFixed(1)} ms p99  (4 KiB, 32)`,
  );
  console.log(
    `  lazy full hydration   ${hydrateMs.toFixed(0).padStart(8)} ms  ${mibPerSecond(volumeBytes, hydrateMs)} MiB/s  (${(restoreMs / hydrateMs).toFixed(2)} x the restore)`,
  );
}

async function main(): Promise<void> {
  const pool = await tempPool();
  const destination = await tempDir('strata-bench-archive-');
  const server = useS3 ? await startTestS3Server() : undefined;
  const target: SnapshotStore =
    server === undefined
      ? await openDirStore(join(destination.path, 'store'))
      : openS3Store({
          endpoint: server.endpoint,
          bucket: server.bucket,
          prefix: 'bench/',
          credentials: server.credentials,
        });
  try {
    report(
      await measure(pool.store, target, destination.path),
      server === undefined ? 'dir store' : 's3rver',
    );
  } finally {
    await target.close();
    await server?.stop();
    await destination.dispose();
    await pool.dispose();
  }
}

await main();
