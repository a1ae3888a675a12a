// The directory backend: conformance, atomic temp-file puts, and the --snapshot-store option parser.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { snapshotStoreConformance } from '../snapshot-store.conformance.ts';
import { openSnapshotStore } from '../open-snapshot-store.ts';
import { ArchiveError, parseSnapshotStoreOption } from '../snapshot-store.ts';
import { openDirStore } from './dir-store.ts';

const roots: string[] = [];
after(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

async function freshRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'strata-dir-store-'));
  roots.push(root);
  return root;
}

snapshotStoreConformance('dir', async () => openDirStore(await freshRoot()));

test('dir: puts leave no temp files behind and ifAbsent reports exists', async () => {
  const root = await freshRoot();
  const store = await openDirStore(root);
  await store.put('chunks/ab/abc', Buffer.alloc(1000, 7), { ifAbsent: true });
  assert.equal(await store.put('chunks/ab/abc', Buffer.alloc(1000, 8), { ifAbsent: true }), 'exists');
  assert.deepEqual(await store.get('chunks/ab/abc'), Buffer.alloc(1000, 7));
  assert.deepEqual(await readdir(join(root, '.tmp')), []);
  assert.deepEqual(
    (await store.list('')).objects.map((o) => o.key),
    ['chunks/ab/abc'],
  );
});

test('parseSnapshotStoreOption: none, dir:, s3:// and errors', async () => {
  assert.deepEqual(parseSnapshotStoreOption('none'), { kind: 'none' });
  assert.deepEqual(parseSnapshotStoreOption('dir:/srv/archive'), { kind: 'dir', path: '/srv/archive' });
  const settings = { endpoint: 'http://127.0.0.1:9000', region: 'eu-west-1' };
  assert.deepEqual(parseSnapshotStoreOption('s3://my-bucket/strata/host1/', settings), {
    kind: 's3',
    bucket: 'my-bucket',
    prefix: 'strata/host1/',
    settings,
  });
  assert.deepEqual(parseSnapshotStoreOption('s3://my-bucket'), {
    kind: 's3',
    bucket: 'my-bucket',
    prefix: '',
    settings: {},
  });
  for (const bad of ['dir:relative', 's3://', 'S3://Bad_Bucket/x', 'ftp://x', '']) {
    assert.throws(
      () => parseSnapshotStoreOption(bad),
      (error: unknown) => error instanceof ArchiveError && error.code === 'EINVAL',
      bad,
    );
  }
  assert.equal(await openSnapshotStore({ kind: 'none' }), null);
  const root = await freshRoot();
  const store = await openSnapshotStore(parseSnapshotStoreOption(`dir:${root}`));
  assert.equal(store?.description, `dir:${root}`);
});

test('dir: paging through nested keys yields exact key order (directories sort as name + /)', async () => {
  const store = await openDirStore(await freshRoot());
  const keys = [
    'a-b',
    'a/x',
    'a/y/z',
    'a0',
    'a.c',
    'b/a-b',
    'b/a/c',
    'b/a0',
    'chunks/ab/1',
    'chunks/ac/2',
    'chunks/a-/3',
  ];
  for (const key of keys) await store.put(key, Buffer.from(key));
  for (const [prefix, limit] of [
    ['', 1],
    ['', 3],
    ['b/', 2],
    ['chunks/a', 1],
    ['a', 2],
  ] as const) {
    const seen: string[] = [];
    let startAfter: string | undefined;
    for (;;) {
      const page = await store.list(prefix, startAfter === undefined ? { limit } : { limit, startAfter });
      seen.push(...page.objects.map((object) => object.key));
      startAfter = page.objects.at(-1)?.key;
      if (!page.truncated) break;
    }
    const expected = keys.filter((key) => key.startsWith(prefix)).sort();
    assert.deepEqual(seen, expected, `prefix ${prefix} limit ${limit}`);
  }
});
