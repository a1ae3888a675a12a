// Faults: transient errors and short reads are retried; corruption is detected and never served;
// a store that stays down fails the archive with a reason; an interrupted archive resumes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { units } from '../base/limits.ts';
import { chunkKey, chunkLength, manifestKey } from './archive-format.ts';
import { archiveSnapshot } from './archiver.ts';
import { openDirStore } from './dir/dir-store.ts';
import { readChunk, restoreSnapshot, verifySnapshot } from './restorer.ts';
import { ArchiveError } from './snapshot-store.ts';
import { FaultStore } from './testing/fault-store.ts';
import { assertSameBytes, scatterWrites, seededRandom, tempDir, tempPool } from './testing/pools.ts';

const seed = Number(process.env.STRATA_TEST_SEED ?? Date.now() % 1_000_000);
console.log(`archive-faults.test.ts seed ${seed} (replay with STRATA_TEST_SEED=${seed})`);
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function setup(name: string) {
  const pool = await tempPool();
  cleanups.push(pool.dispose);
  const dir = await tempDir('strata-archive-faults-');
  cleanups.push(dir.dispose);
  await pool.store.createVolume(`vol-${name}`, 32 * units.MiB);
  await scatterWrites(pool.store, `vol-${name}`, seededRandom(seed), 16, 200 * units.KiB);
  await pool.store.snapshot(`vol-${name}`, `snap-${name}`);
  return { store: pool.store, inner: await openDirStore(dir.path), snapshotId: `snap-${name}` };
}

test('transient errors and short reads are retried: archive and restore succeed', async () => {
  const { store, inner, snapshotId } = await setup('a');
  const target = new FaultStore(inner, { seed, errorRate: 0.25, shortReadRate: 0.2 });
  const result = await archiveSnapshot({ store, snapshotId, target, concurrency: 4 });
  assert.ok(result.retries > 0 && target.counts.injectedErrors > 0, 'faults were injected and retried');
  const other = await tempPool();
  cleanups.push(other.dispose);
  const manifest = await restoreSnapshot({
    source: target,
    snapshotId,
    store: other.store,
    volumeId: 'vol-restored',
  });
  await assertSameBytes(store, snapshotId, other.store, 'vol-restored');
  // Short reads come at random (0.8^n that a restore of n chunks saw none): read on until some came, each
  // healed, since readChunk returns only bytes that match their hash.
  for (let pass = 0; target.counts.shortReads === 0 && pass < 50; pass++) {
    for (const [index, hash] of manifest.chunks) {
      const data = await readChunk(target, hash, chunkLength(manifest, index));
      assert.equal(data.length, chunkLength(manifest, index));
    }
  }
  assert.ok(target.counts.shortReads > 0, 'short reads happened and were healed');
});

test('a corrupt chunk is detected by restore (typed error, volume removed) and by verify', async () => {
  const { store, inner, snapshotId } = await setup('b');
  const { manifest } = await archiveSnapshot({ store, snapshotId, target: inner });
  const [, victim] = manifest.chunks[manifest.chunks.length >> 1] ?? [];
  assert.ok(victim !== undefined);
  const source = new FaultStore(inner, { corruptKeys: (key) => key === chunkKey(victim) });
  const other = await tempPool();
  cleanups.push(other.dispose);
  await assert.rejects(
    restoreSnapshot({ source, snapshotId, store: other.store, volumeId: 'vol-bad' }),
    (error: unknown) =>
      error instanceof ArchiveError && error.code === 'ECORRUPT' && error.message.includes(victim),
  );
  assert.equal(other.store.device('vol-bad'), undefined, 'a failed restore leaves no half volume');
  await assert.rejects(
    readChunk(source, victim, manifest.chunkBytes),
    (error: unknown) => error instanceof ArchiveError && error.code === 'ECORRUPT',
  );
  const report = await verifySnapshot({ source, snapshotId });
  assert.deepEqual(
    { ok: report.ok, corrupt: report.corrupt, missing: report.missing },
    { ok: false, corrupt: [victim], missing: [] },
  );
  // Damage at rest in the real directory is caught too, and a missing chunk is reported as missing.
  await inner.delete(chunkKey(victim));
  const missing = await verifySnapshot({ source: inner, snapshotId });
  assert.deepEqual(missing.missing, [victim]);
  // A manifest that fails its checksum is refused.
  const manifestBytes = await inner.get(manifestKey(snapshotId));
  manifestBytes[20] = manifestBytes[20] === 0x31 ? 0x32 : 0x31;
  await inner.put(manifestKey(snapshotId), manifestBytes);
  await assert.rejects(
    verifySnapshot({ source: inner, snapshotId }),
    (error: unknown) => error instanceof ArchiveError && error.code === 'ECORRUPT',
  );
});

test('a store that stays down fails the archive after the retry deadline, with the reason', async () => {
  const { store, inner, snapshotId } = await setup('c');
  const target = new FaultStore(inner, { errorRate: 1 });
  const started = Date.now();
  await assert.rejects(
    archiveSnapshot({ store, snapshotId, target, retryDeadlineMs: 400 }),
    (error: unknown) =>
      error instanceof ArchiveError && error.code === 'ETIMEDOUT' && /injected fault/.test(error.message),
  );
  assert.ok(Date.now() - started < 5000, 'bounded time');
  assert.equal(
    await inner.head(manifestKey(snapshotId)),
    undefined,
    'no manifest: the snapshot is not archived',
  );
});

test('an interrupted archive resumes and sends only what is missing', async () => {
  const { store, inner, snapshotId } = await setup('d');
  const crashing = new FaultStore(inner, { crashAfterPuts: 5 });
  await assert.rejects(
    archiveSnapshot({ store, snapshotId, target: crashing, concurrency: 1, retryDeadlineMs: 100 }),
  );
  assert.equal(await inner.head(manifestKey(snapshotId)), undefined, 'incomplete without its manifest');
  await assert.rejects(
    verifySnapshot({ source: inner, snapshotId }),
    (error: unknown) => error instanceof ArchiveError && error.code === 'ENOENT',
  );
  const target = new FaultStore(inner, {});
  const resumed = await archiveSnapshot({ store, snapshotId, target });
  assert.equal(resumed.chunksPresent, 5, 'the chunks sent before the crash are not sent again');
  assert.equal(resumed.chunksUploaded, resumed.manifest.chunks.length - 5);
  assert.equal(target.counts.putsWritten, resumed.chunksUploaded + 1);
  assert.equal((await verifySnapshot({ source: inner, snapshotId })).ok, true);
});
