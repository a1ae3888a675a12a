import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionError, divExact, assertNever } from './assert.ts';
import { assertLimits } from './limits.ts';
import { isValidId, newId } from './ids.ts';

test('divExact divides exactly and crashes otherwise', () => {
  assert.equal(divExact(65536, 4096), 16);
  assert.throws(() => divExact(65537, 4096), AssertionError);
});

test('assertNever names the unexpected value', () => {
  assert.throws(() => assertNever('x' as never, 'command'), /unexpected command: "x"/);
});

test('limits hold their relations', () => {
  assert.doesNotThrow(() => assertLimits());
});

test('ids follow the EC2 contract', () => {
  const id = newId('vol');
  assert.match(id, /^vol-[0-9a-f]{17}$/);
  assert.ok(isValidId(id, 'vol'));
  assert.ok(isValidId('vol-1234abcd', 'vol'));
  assert.ok(!isValidId('vol-XYZ', 'vol'));
  assert.ok(!isValidId(id, 'snap'));
});
