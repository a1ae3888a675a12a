import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from './prng.ts';

test('seededRandom replays the same sequence for a seed, in [0, 1), and differs between seeds', () => {
  const draw = (seed: number): number[] => Array.from({ length: 1000 }, seededRandom(seed));
  const first = draw(42);
  assert.deepEqual(draw(42), first);
  assert.ok(first.every((value) => value >= 0 && value < 1));
  assert.notDeepEqual(draw(43), first);
  const mean = first.reduce((sum, value) => sum + value, 0) / first.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean} of 1000 draws is far from 0.5`);
});
