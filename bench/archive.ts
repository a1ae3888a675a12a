// Snapshot archive benchmark, run by hand:
//   node --import tsx bench/archive.ts [--quick] [--s3]
// Into a directory store (--s3: s3rver on 127.0.0.1 instead), with a fully written volume of 1 GiB
// (--quick: 64 MiB) of distinct chunks, measures:
// - full archive throughput vs a plain copy of the same bytes (pool read + sequential file write + fsync)
//   to the same destination: the ratio is the price of chunking, hashing and per-object durability;
// - incremental archive time with 1% of the volume changed (scattered 64 KiB writes);
// - restore throughput into a fresh pool, hashes verified.
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { limits, units } from '../src/base/limits.ts';
import type { BlockStore } from '../src/storage/block-store.ts';
import { archiveSnapshot } from '../src/objectstore/archiver.ts';
import { openDirStore } from '../src/objectstore/dir/dir-store.ts';
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
    const { store } = pool;
    await store.createVolume('vol-bench', volumeBytes);
    await fill(store, 'vol-bench');
    await store.snapshot('vol-bench', 'snap-full');
    const copyMs = await plainCopy(store, 'snap-full', destination.path);
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
    const fresh = await tempPool();
    started = performance.now();
    await restoreSnapshot({
      source: target,
      snapshotId: 'snap-incr',
      store: fresh.store,
      volumeId: 'vol-restored',
    });
    const restoreMs = performance.now() - started;
    await fresh.dispose();
    const where = server === undefined ? 'dir store' : 's3rver';
    console.log(
      `Snapshot archive (${volumeBytes / units.MiB} MiB volume, ${where}, ${limits.archiveChunksInFlight} chunks in flight)`,
    );
    console.log(
      `  plain copy            ${copyMs.toFixed(0).padStart(8)} ms  ${mibPerSecond(volumeBytes, copyMs)} MiB/s`,
    );
    console.log(
      `  full archive          ${archiveMs.toFixed(0).padStart(8)} ms  ${mibPerSecond(volumeBytes, archiveMs)} MiB/s  (${full.chunksUploaded} chunks)`,
    );
    console.log(`  archive / copy time   ${(archiveMs / copyMs).toFixed(2).padStart(8)} x`);
    console.log(
      `  incremental 1%        ${incrementalMs.toFixed(0).padStart(8)} ms  (${incremental.chunksUploaded} chunks sent)`,
    );
    console.log(
      `  restore               ${restoreMs.toFixed(0).padStart(8)} ms  ${mibPerSecond(volumeBytes, restoreMs)} MiB/s`,
    );
  } finally {
    await target.close();
    await server?.stop();
    await destination.dispose();
    await pool.dispose();
  }
}

await main();
