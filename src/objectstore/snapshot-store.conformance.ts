// One conformance suite every SnapshotStore backend runs (dir, s3): the semantics the archive relies on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArchiveError, listAll, type SnapshotStore } from './snapshot-store.ts';

/** Registers the conformance tests; `open` gives a fresh, empty store per test. */
export function snapshotStoreConformance(name: string, open: () => Promise<SnapshotStore>): void {
  test(`${name}: put, get, head, overwrite and delete`, () => withStore(open, putGetHeadDelete));
  test(`${name}: put ifAbsent keeps the first object`, () => withStore(open, putIfAbsent));
  test(`${name}: list by prefix in key order with pagination`, () => withStore(open, listInOrder));
  test(`${name}: rejects keys that could escape the store`, () => withStore(open, rejectsEscapingKeys));
}

/** Runs `use` on a fresh store and closes it, whatever happens. */
async function withStore(
  open: () => Promise<SnapshotStore>,
  use: (store: SnapshotStore) => Promise<void>,
): Promise<void> {
  const store = await open();
  try {
    await use(store);
  } finally {
    await store.close();
  }
}

async function putGetHeadDelete(store: SnapshotStore): Promise<void> {
  const body = Buffer.from('hello archive');
  assert.equal(await store.put('a/b/c.txt', body), 'written');
  assert.deepEqual(await store.get('a/b/c.txt'), body);
  const info = await store.head('a/b/c.txt');
  assert.equal(info?.sizeBytes, body.length);
  assert.ok(info !== undefined && Math.abs(info.modifiedMs - Date.now()) < 60_000, 'modified time is recent');
  await store.put('a/b/c.txt', Buffer.from('replaced'));
  assert.equal((await store.get('a/b/c.txt')).toString(), 'replaced');
  await store.delete('a/b/c.txt');
  assert.equal(await store.head('a/b/c.txt'), undefined);
  await assert.rejects(
    store.get('a/b/c.txt'),
    (error: unknown) => error instanceof ArchiveError && error.code === 'ENOENT',
  );
  await store.delete('a/b/c.txt'); // deleting a missing object succeeds
}

async function putIfAbsent(store: SnapshotStore): Promise<void> {
  assert.equal(await store.put('chunks/aa/x', Buffer.from('first'), { ifAbsent: true }), 'written');
  const second = await store.put('chunks/aa/x', Buffer.from('first'), { ifAbsent: true });
  // Content-addressed writers put identical bytes; a server that ignores If-None-Match reports 'written'.
  assert.ok(second === 'exists' || second === 'written');
  assert.equal((await store.get('chunks/aa/x')).toString(), 'first');
}

async function listInOrder(store: SnapshotStore): Promise<void> {
  const keys = ['m/snap-3.json', 'm/snap-1.json', 'c/01/x', 'c/00/y', 'c/02/z', 'm/snap-2.json', 'c/00/w'];
  for (const key of keys) await store.put(key, Buffer.from(key));
  const first = await store.list('c/', { limit: 2 });
  assert.deepEqual(
    first.objects.map((o) => o.key),
    ['c/00/w', 'c/00/y'],
  );
  assert.equal(first.truncated, true);
  const rest = await store.list('c/', { startAfter: 'c/00/y', limit: 10 });
  assert.deepEqual(
    rest.objects.map((o) => o.key),
    ['c/01/x', 'c/02/z'],
  );
  assert.equal(rest.truncated, false);
  const all: string[] = [];
  for await (const object of listAll(store, 'm/')) all.push(object.key);
  assert.deepEqual(all, ['m/snap-1.json', 'm/snap-2.json', 'm/snap-3.json']);
  assert.deepEqual((await store.list('nothing/')).objects, []);
}

async function rejectsEscapingKeys(store: SnapshotStore): Promise<void> {
  for (const key of ['../x', 'a/../../x', '/abs', 'a//b', 'sp ace']) {
    await assert.rejects(
      store.put(key, Buffer.from('x')),
      (error: unknown) => error instanceof ArchiveError && error.code === 'EINVAL',
      key,
    );
  }
}
