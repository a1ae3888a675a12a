// The retrying decorator over a faulty directory store: transient faults are retried on every operation,
// permanent ones are not, and a store that stays down ends in ETIMEDOUT naming the operation and the reason.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { openDirStore } from './dir/dir-store.ts';
import { RetryingStore } from './retrying-store.ts';
import { ArchiveError, listAll } from './snapshot-store.ts';
import { FaultStore } from './testing/fault-store.ts';
import { tempDir } from './testing/pools.ts';

const seed = Number(process.env.STRATA_TEST_SEED ?? Date.now() % 1_000_000);
console.log(`retrying-store.test.ts seed ${seed} (replay with STRATA_TEST_SEED=${seed})`);
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function faultyStore(errorRate: number): Promise<FaultStore> {
  const dir = await tempDir('strata-retrying-');
  cleanups.push(dir.dispose);
  return new FaultStore(await openDirStore(dir.path), { seed, errorRate });
}

test('every operation survives transient faults, and each retry is counted', async () => {
  const faulty = await faultyStore(0.3);
  let retries = 0;
  const store = new RetryingStore(faulty, {
    deadlineMs: 30_000,
    delayMsInitial: 1,
    delayMsMax: 4,
    onRetry: () => void retries++,
  });
  const keys = Array.from({ length: 40 }, (_, index) => `objects/${String(index).padStart(3, '0')}`);
  for (const key of keys) assert.equal(await store.put(key, Buffer.from(key)), 'written');
  for (const key of keys) {
    assert.equal((await store.get(key)).toString(), key);
    assert.equal((await store.head(key))?.sizeBytes, key.length);
  }
  const listed: string[] = [];
  for await (const object of listAll(store, 'objects/')) listed.push(object.key);
  assert.deepEqual(listed, keys);
  for (const key of keys) await store.delete(key);
  assert.deepEqual((await store.list('objects/')).objects, []);
  assert.ok(faulty.counts.injectedErrors > 0, `seed ${seed}: the fault store injected errors`);
  assert.equal(retries, faulty.counts.injectedErrors, `seed ${seed}: every injected error was retried`);
  assert.equal(store.description, faulty.description);
});

test('a missing object is ENOENT at once: permanent errors are not retried', async () => {
  const faulty = await faultyStore(0);
  let retries = 0;
  const store = new RetryingStore(faulty, { deadlineMs: 30_000, onRetry: () => void retries++ });
  const started = Date.now();
  await assert.rejects(
    store.get('missing/key'),
    (error: unknown) => error instanceof ArchiveError && error.code === 'ENOENT',
  );
  assert.equal(retries, 0);
  assert.equal(faulty.counts.gets, 1);
  assert.ok(Date.now() - started < 5_000, 'no backoff was waited');
});

test('a store that stays down fails with ETIMEDOUT after the deadline, naming the operation and reason', async () => {
  const faulty = await faultyStore(0);
  faulty.down = true;
  const store = new RetryingStore(faulty, { deadlineMs: 300, delayMsInitial: 10, delayMsMax: 50 });
  const started = Date.now();
  await assert.rejects(store.put('chunks/ab/cd', Buffer.from('x')), (error: unknown) => {
    assert.ok(error instanceof ArchiveError);
    assert.equal(error.code, 'ETIMEDOUT');
    assert.match(error.message, /^put chunks\/ab\/cd failed after \d+ attempts in \d+ ms: injected fault/);
    return true;
  });
  const elapsedMs = Date.now() - started;
  assert.ok(elapsedMs <= 2_000, `gave up near the deadline (${elapsedMs} ms)`);
  assert.ok(faulty.counts.injectedErrors >= 2, 'it did retry before giving up');
  faulty.down = false;
  await store.close();
  assert.equal(
    await faulty.put('after/close', Buffer.from('y')),
    'written',
    'closing it left the inner store open',
  );
});
