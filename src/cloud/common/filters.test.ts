import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CloudError as ApiError } from '../errors.ts';
import { compileFilters, wildcardRegex, type FilterFields } from './filters.ts';

interface Item {
  readonly id: string;
  readonly size: number;
  readonly tags: Map<string, string>;
}

const fields: FilterFields<Item> = { 'volume-id': (i) => i.id, size: (i) => i.size };
const items: Item[] = [
  {
    id: 'vol-aaa',
    size: 8,
    tags: new Map([
      ['Name', 'web-1'],
      ['env', 'prod'],
    ]),
  },
  {
    id: 'vol-abb',
    size: 16,
    tags: new Map([
      ['Name', 'db?'],
      ['team', 'x'],
    ]),
  },
  { id: 'vol-ccc', size: 8, tags: new Map() },
];
const ids = (filters: { name: string; values: string[] }[]) =>
  items.filter(compileFilters(filters, fields, (i) => i.tags)).map((i) => i.id);

test('wildcards: * any run, ? one character, backslash escapes, anchored and case-sensitive', () => {
  assert.ok(wildcardRegex('vol-a*').test('vol-abc'));
  assert.ok(wildcardRegex('vol-?bb').test('vol-abb'));
  assert.ok(!wildcardRegex('vol-?bb').test('vol-aabb'));
  assert.ok(wildcardRegex('db\\?').test('db?'));
  assert.ok(!wildcardRegex('db\\?').test('dbx'));
  assert.ok(!wildcardRegex('VOL-*').test('vol-a'));
  assert.ok(wildcardRegex('a.b').test('a.b') && !wildcardRegex('a.b').test('axb'));
});

test('values OR together, filters AND together, numbers match as text', () => {
  assert.deepEqual(ids([{ name: 'volume-id', values: ['vol-aaa', 'vol-ccc'] }]), ['vol-aaa', 'vol-ccc']);
  assert.deepEqual(
    ids([
      { name: 'volume-id', values: ['vol-a*'] },
      { name: 'size', values: ['8'] },
    ]),
    ['vol-aaa'],
  );
});

test('tag:<key>, tag-key and tag-value', () => {
  assert.deepEqual(ids([{ name: 'tag:Name', values: ['web-*'] }]), ['vol-aaa']);
  assert.deepEqual(ids([{ name: 'tag:Name', values: ['db\\?'] }]), ['vol-abb']);
  assert.deepEqual(ids([{ name: 'tag-key', values: ['team', 'env'] }]), ['vol-aaa', 'vol-abb']);
  assert.deepEqual(ids([{ name: 'tag-value', values: ['prod'] }]), ['vol-aaa']);
});

test('unknown filter names are InvalidParameterValue naming the filter', () => {
  assert.throws(
    () => ids([{ name: 'colour', values: ['red'] }]),
    (e: unknown) => e instanceof ApiError && e.code === 'InvalidParameterValue' && /colour/.test(e.message),
  );
  assert.throws(() => ids([{ name: 'toString', values: ['x'] }]), ApiError);
});
