import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CloudError as ApiError } from '../errors.ts';
import { Paginator } from './pagination.ts';

const bounds = { min: 5, max: 500, clampAbove: true };
const all = Array.from({ length: 23 }, (_, i) => `vol-${String(i).padStart(17, '0')}`);

test('pages cover every item exactly once and the last page has no token', () => {
  const paginator = new Paginator();
  const scope = { action: 'DescribeVolumes', accountId: '111122223333', filters: [] };
  const seen: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const request = paginator.open(scope, 5, token, bounds);
    const rest = all.filter((id) => request.after === undefined || id > request.after);
    const page = paginator.page(scope, request, rest, (id) => id);
    assert.ok(page.items.length <= 5);
    seen.push(...page.items);
    token = page.nextToken;
    pages++;
  } while (token !== undefined);
  assert.equal(pages, Math.ceil(all.length / 5));
  assert.deepEqual(seen, all);
});

test('tokens are tamper-checked and bound to the request scope', () => {
  const paginator = new Paginator();
  const scope = { action: 'DescribeVolumes', accountId: '111122223333' };
  const page = paginator.page(scope, paginator.open(scope, 5, undefined, bounds), all, (id) => id);
  assert.ok(page.nextToken);
  const invalid = (e: unknown) => e instanceof ApiError && e.code === 'InvalidParameterValue';
  const [payload, mac] = page.nextToken.split('.') as [string, string];
  const forged = Buffer.from(JSON.stringify({ a: all[20], f: 'x' })).toString('base64url');
  assert.throws(() => paginator.open(scope, 5, `${forged}.${mac}`, bounds), invalid);
  assert.throws(() => paginator.open(scope, 5, `${payload}.${mac}x`, bounds), invalid);
  assert.throws(
    () => paginator.open({ ...scope, accountId: '999988887777' }, 5, page.nextToken, bounds),
    invalid,
  );
  assert.throws(() => new Paginator().open(scope, 5, page.nextToken, bounds), invalid);
  assert.equal(paginator.open(scope, 5, page.nextToken, bounds).after, all[4]);
});

test('MaxResults bounds: below the minimum fails; above the maximum clamps or fails per action', () => {
  const paginator = new Paginator();
  assert.throws(() => paginator.open({}, 4, undefined, bounds), ApiError);
  assert.equal(paginator.open({}, 10_000, undefined, bounds).limit, 500);
  assert.throws(
    () => paginator.open({}, 1001, undefined, { min: 5, max: 1000, clampAbove: false }),
    ApiError,
  );
  assert.equal(paginator.open({}, undefined, undefined, bounds).limit, undefined);
});
