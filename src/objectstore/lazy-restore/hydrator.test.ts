// The hydrator alone: its rate limit, the shared cap on fills across hydrators, stop and unthrottle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../base/log.ts';
import { Semaphore } from '../../base/semaphore.ts';
import { ArchiveError } from '../snapshot-store.ts';
import { Hydrator, type HydratorOptions } from './hydrator.ts';

const chunkBytes = 512 * 1024;

function hydrator(overrides: Partial<HydratorOptions> & Pick<HydratorOptions, 'fill'>): {
  hydrator: Hydrator;
  present: Set<number>;
} {
  const present = new Set<number>();
  const options: HydratorOptions = {
    chunks: Array.from({ length: 8 }, (_, index) => index),
    chunkBytes,
    bytesPerSecond: 1e12,
    isPresent: (index) => present.has(index),
    finish: () => Promise.resolve(),
    logger: silentLogger,
    ...overrides,
  };
  return { hydrator: new Hydrator(options), present };
}

test('hydrators sharing a semaphore never have more fills in flight than its permits, and all finish', async () => {
  const fills = new Semaphore(3);
  let inFlight = 0;
  let most = 0;
  let filled = 0;
  const runs = Array.from({ length: 6 }, () => {
    const { hydrator: one } = hydrator({
      fills,
      fill: async () => {
        most = Math.max(most, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight--;
        filled++;
      },
    });
    return one.done;
  });
  await Promise.all(runs);
  assert.equal(filled, 6 * 8, 'every chunk of every volume filled');
  assert.ok(most <= 3, `at most 3 fills at once, saw ${most}`);
  assert.ok(most > 1, 'fills ran concurrently');
});

test('the rate limit holds fills back; stop wakes every waiting worker; unthrottle lifts the limit', async () => {
  let filled = 0;
  // One chunk a second: the first fill waits about a second for its tokens.
  const slow = hydrator({ bytesPerSecond: chunkBytes, fill: () => Promise.resolve(void filled++) });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(filled, 0, 'no fill before the tokens are there');
  slow.hydrator.stop();
  await assert.rejects(
    slow.hydrator.done,
    (error: unknown) => error instanceof ArchiveError && error.code === 'ECANCELED',
  );

  const crawl = hydrator({ bytesPerSecond: 1, fill: () => Promise.resolve(void filled++) });
  await new Promise((resolve) => setTimeout(resolve, 50));
  crawl.hydrator.unthrottle();
  await crawl.hydrator.done;
  assert.equal(filled, 8, 'unthrottled, it fills everything at once');
});
