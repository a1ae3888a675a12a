import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionError } from '../../base/assert.ts';
import { Allocator } from './allocator.ts';

test('allocator hands out freed extents (lowest first) before fresh holes, within capacity', () => {
  const allocator = new Allocator(6, 3, [2, 0]);
  assert.equal(allocator.available(), 5);
  assert.deepEqual(allocator.allocate(), { extent: 0, fresh: false });
  assert.deepEqual(allocator.allocate(), { extent: 2, fresh: false });
  assert.deepEqual(allocator.allocate(), { extent: 3, fresh: true });
  assert.equal(allocator.highWater, 4);
  allocator.allocate();
  allocator.allocate();
  assert.equal(allocator.available(), 0);
  assert.throws(() => allocator.allocate(), AssertionError);
  allocator.release([4]);
  assert.ok(allocator.isFree(4));
  assert.deepEqual(allocator.allocate(), { extent: 4, fresh: false });
  allocator.grow(8);
  assert.equal(allocator.available(), 2);
});

test('allocator crashes on double free, out-of-range free, shrinking and a corrupt free list', () => {
  const allocator = new Allocator(4, 2, []);
  allocator.release([1]);
  assert.throws(() => allocator.release([1]), /freed twice/);
  assert.throws(() => allocator.release([2]), /out of range/);
  assert.throws(() => allocator.grow(3), /shrink/);
  assert.throws(() => new Allocator(4, 2, [1, 1]), /duplicate/);
  assert.throws(() => new Allocator(4, 2, [3]), /out of range/);
});
