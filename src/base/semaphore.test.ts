// The boot limiter: never more holders than permits, waiters served in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Semaphore } from './semaphore.ts';

test('a semaphore of 2 lets at most 2 of 5 tasks run at once, in arrival order', async () => {
  const semaphore = new Semaphore(2);
  let running = 0;
  let peak = 0;
  const started: number[] = [];
  await Promise.all(
    [0, 1, 2, 3, 4].map(async (task) => {
      const release = await semaphore.acquire();
      started.push(task);
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running--;
      release();
      assert.throws(release, /released twice/);
    }),
  );
  assert.equal(peak, 2);
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
});
