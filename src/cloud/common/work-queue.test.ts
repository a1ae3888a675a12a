import { test } from 'node:test';
import assert from 'node:assert/strict';
import { limits } from '../../base/limits.ts';
import { silentLogger } from '../../base/log.ts';
import { CloudError } from '../errors.ts';
import { WorkQueue } from './work-queue.ts';

test('jobs of one key run in order; a failure goes to onError and the next job still runs', async () => {
  const work = new WorkQueue(silentLogger);
  const events: string[] = [];
  const failures: unknown[] = [];
  const onError = async (error: unknown) => void failures.push(error);
  work.enqueue('vol-1', async () => void events.push('first'), onError);
  work.enqueue(
    'vol-1',
    async () => {
      events.push('second');
      throw new Error('second fails');
    },
    onError,
  );
  work.enqueue('vol-1', async () => void events.push('third'), onError);
  assert.equal(await work.exclusive('vol-1', async () => events.length), 3, 'exclusive waits for the queue');
  await work.idle();
  assert.deepEqual(events, ['first', 'second', 'third']);
  assert.equal(failures.length, 1);
  assert.match(String(failures[0]), /second fails/);
});

test('beyond workKeysBusyMax busy keys: a new key is refused, a busy one still queues', async () => {
  const work = new WorkQueue(silentLogger);
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const noError = async (error: unknown) => assert.fail(`unexpected failure ${String(error)}`);
  for (let index = 0; index < limits.workKeysBusyMax; index++)
    work.enqueue(`vol-${index}`, () => gate, noError);
  let ran = false;
  const refusals: unknown[] = [];
  work.enqueue(
    'vol-new',
    async () => void (ran = true),
    async (error) => void refusals.push(error),
  );
  await assert.rejects(
    work.exclusive('vol-new', async () => 'ran'),
    (error: CloudError) => error instanceof CloudError && error.code === 'RequestLimitExceeded',
  );
  const queued = work.exclusive('vol-0', async () => 'after vol-0');
  open();
  assert.equal(await queued, 'after vol-0');
  await work.idle();
  assert.equal(ran, false, 'the refused job never ran');
  assert.equal(refusals.length, 1);
  assert.ok(refusals[0] instanceof CloudError && refusals[0].code === 'RequestLimitExceeded');
  assert.equal(await work.exclusive('vol-new', async () => 'room again'), 'room again');
});
