// One-time sign-in tokens: each works once, within its lifetime, and the pending set stays bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { limits } from '../../base/limits.ts';
import { ConsoleLogins } from './console-logins.ts';

const key = {
  accessKeyId: 'AKIATESTTESTTESTTEST',
  secretAccessKey: 's'.repeat(40),
  accountId: '123456789012',
};

test('a token is redeemed once for its key; a second use, a stranger or an empty token get nothing', () => {
  const logins = new ConsoleLogins();
  const token = logins.mint(key);
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(!token.includes(key.secretAccessKey));
  const tampered = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
  assert.equal(logins.redeem(tampered), undefined);
  assert.deepEqual(logins.redeem(token), key);
  assert.equal(logins.redeem(token), undefined);
  assert.equal(logins.redeem(''), undefined);
  assert.equal(logins.redeem('x'.repeat(10_000)), undefined);
});

test('a token expires after limits.consoleLoginTtlSeconds', () => {
  let nowMs = 1_000_000;
  const logins = new ConsoleLogins(() => nowMs);
  const late = logins.mint(key);
  const inTime = logins.mint(key);
  nowMs += limits.consoleLoginTtlSeconds * 1000;
  assert.deepEqual(logins.redeem(inTime), key, 'valid up to its last millisecond');
  nowMs += 1;
  assert.equal(logins.redeem(late), undefined);
});

test('past limits.consoleLoginsPendingMax the oldest pending tokens go first', () => {
  const logins = new ConsoleLogins();
  const first = logins.mint(key);
  const rest = Array.from({ length: limits.consoleLoginsPendingMax }, () => logins.mint(key));
  assert.equal(logins.redeem(first), undefined, 'the oldest was dropped');
  assert.deepEqual(logins.redeem(rest[0] ?? ''), key);
  assert.deepEqual(logins.redeem(rest.at(-1) ?? ''), key);
});
