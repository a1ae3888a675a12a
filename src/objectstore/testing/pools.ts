// Test helpers: temporary pools with seeded, sparse volume contents, and whole-device comparison.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assert } from '../../base/assert.ts';
import { units } from '../../base/limits.ts';
import type { BlockStore } from '../../storage/block-store.ts';
import { openBlockStore } from '../../storage/open-block-store.ts';

/** The project's seeded PRNG, re-exported for the archive tests. */
export { seededRandom } from '../../base/prng.ts';

/** `length` pseudo-random bytes from `random`. */
export function randomBuffer(random: () => number, length: number): Buffer {
  const data = Buffer.alloc(length);
  for (let at = 0; at + 4 <= length; at += 4) data.writeUInt32LE(Math.floor(random() * 2 ** 32), at);
  return data;
}

/** A pool in a fresh temp dir; `dispose` closes it and removes the dir. */
export async function tempPool(): Promise<{ store: BlockStore; dir: string; dispose: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-archive-pool-'));
  const store = await openBlockStore({ dir, capacityBytes: 4 * units.GiB });
  return {
    store,
    dir,
    async dispose() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A temp dir removed by `dispose`. */
export async function tempDir(prefix: string): Promise<{ path: string; dispose: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, dispose: () => rm(path, { recursive: true, force: true }) };
}

/** Writes `count` random runs of `runBytes` at random 512-aligned offsets; returns the touched byte ranges. */
export async function scatterWrites(
  store: BlockStore,
  volumeId: string,
  random: () => number,
  count: number,
  runBytes: number,
): Promise<{ offset: number; length: number }[]> {
  const sizeBytes = store.device(volumeId)?.sizeBytes ?? 0;
  assert(sizeBytes >= runBytes, 'volume holds a run');
  const ranges: { offset: number; length: number }[] = [];
  for (let i = 0; i < count; i++) {
    const offset = Math.floor((random() * (sizeBytes - runBytes)) / 512) * 512;
    await store.write(volumeId, offset, randomBuffer(random, runBytes));
    ranges.push({ offset, length: runBytes });
  }
  return ranges;
}

/** Asserts two devices (possibly in different pools) read byte-identical, in 8 MiB pieces. */
export async function assertSameBytes(a: BlockStore, aId: string, b: BlockStore, bId: string): Promise<void> {
  const sizeBytes = a.device(aId)?.sizeBytes;
  assert(
    sizeBytes !== undefined && sizeBytes === b.device(bId)?.sizeBytes,
    `${aId} and ${bId} differ in size`,
  );
  for (let offset = 0; offset < sizeBytes; offset += 8 * units.MiB) {
    const length = Math.min(8 * units.MiB, sizeBytes - offset);
    const [left, right] = await Promise.all([a.read(aId, offset, length), b.read(bId, offset, length)]);
    if (!left.equals(right)) throw new Error(`${aId} and ${bId} differ within [${offset}, +${length})`);
  }
}
