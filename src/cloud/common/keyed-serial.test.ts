import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedSerial } from './keyed-serial.ts';

/** A promise and the functions that settle it. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((yes, no) => ((resolve = yes), (reject = no)));
  return { promise, resolve, reject };
}

test('work on one key runs in order, one at a time, even after a failure', async () => {
  const serial = new KeyedSerial(4);
  const events: string[] = [];
  const first = deferred();
  const a = serial.run('k', async () => {
    events.push('a start');
    await first.promise;
    events.push('a end');
  });
  const b = serial.run('k', async () => {
    events.push('b start');
    throw new Error('b fails');
  });
  const c = serial.run('k', async () => {
    events.push('c start');
    return 42;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(events, ['a start'], 'b waits for a');
  first.resolve();
  await a;
  await assert.rejects(b!, /b fails/);
  assert.equal(await c, 42);
  assert.deepEqual(events, ['a start', 'a end', 'b start', 'c start']);
});

test('different keys run at once; idle keys are forgotten', async () => {
  const serial = new KeyedSerial(4);
  const gate = deferred();
  let running = 0;
  let most = 0;
  const work = async () => {
    running++;
    most = Math.max(most, running);
    await gate.promise;
    running--;
  };
  const runs = ['a', 'b', 'c'].map((key) => serial.run(key, work));
  assert.equal(serial.size, 3);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(most, 3, 'three keys ran together');
  gate.resolve();
  await Promise.all(runs);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(serial.size, 0, 'no key is remembered once its work ended');
});

test('a new key beyond the bound runs nothing; a busy key still queues', async () => {
  const serial = new KeyedSerial(2);
  const gate = deferred();
  const a = serial.run('a', () => gate.promise);
  const b = serial.run('b', () => gate.promise);
  let ran = false;
  assert.equal(
    serial.run('c', async () => void (ran = true)),
    undefined,
  );
  const again = serial.run('a', async () => 'queued behind a');
  assert.notEqual(again, undefined, 'a busy key is not a new one');
  assert.equal(serial.size, 2);
  gate.resolve();
  await Promise.all([a, b]);
  assert.equal(await again, 'queued behind a');
  assert.equal(ran, false, 'the refused run never ran');
  await new Promise((resolve) => setImmediate(resolve));
  assert.notEqual(
    serial.run('c', async () => undefined),
    undefined,
    'room again once keys went idle',
  );
});
