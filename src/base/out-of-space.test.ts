import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isOutOfSpace } from './out-of-space.ts';

test('isOutOfSpace knows each layer’s word for a full disk, also when wrapped', () => {
  const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
  assert.equal(isOutOfSpace(full), true);
  assert.equal(isOutOfSpace(Object.assign(new Error('x'), { code: 'ENOSPC' })), true);
  assert.equal(isOutOfSpace(Object.assign(new Error('x'), { code: '53100' })), true);
  assert.equal(isOutOfSpace(new Error('outer', { cause: full })), true);
  assert.equal(isOutOfSpace(Object.assign(new Error('x'), { code: 'EIO' })), false);
  assert.equal(isOutOfSpace(new Error('plain')), false);
  assert.equal(isOutOfSpace(undefined), false);
  assert.equal(isOutOfSpace('ENOSPC'), false);
});
