import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openBlockStore, fsckPool } from '../open-block-store.ts';

const strata = fileURLToPath(new URL('../../../bin/strata', import.meta.url));

async function makePool(dataDir: string): Promise<string> {
  const dir = join(dataDir, 'pool');
  const store = await openBlockStore({ dir, capacityBytes: 16 * 1024 * 1024, extentBytes: 4096 });
  await store.createVolume('vol-a', 64 * 1024);
  await store.write('vol-a', 0, Buffer.alloc(40_000, 7));
  await store.snapshot('vol-a', 'snap-a');
  await store.clone('snap-a', 'vol-b');
  await store.write('vol-b', 100, Buffer.alloc(5000, 9));
  await store.trim('vol-a', 0, 8192);
  await store.close();
  return dir;
}

function sql(dir: string, statement: string): void {
  const db = new Database(join(dir, 'meta.db'));
  db.exec(statement);
  db.close();
}

test('fsck passes a healthy pool and names every injected problem', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'strata-fsck-'));
  try {
    const dir = await makePool(dataDir);
    const clean = await fsckPool(dir);
    assert.deepEqual(clean.problems, []);
    assert.ok(clean.stats.ownedExtents > 0 && clean.stats.lineages === 2);
    const extent = new Database(join(dir, 'meta.db'))
      .prepare('SELECT extent FROM mappings WHERE extent >= 0 LIMIT 1')
      .pluck()
      .get() as number;
    sql(dir, `INSERT INTO free_extents VALUES (${extent})`);
    sql(dir, `INSERT INTO mappings VALUES (1, 5000, 1, 999999)`);
    sql(dir, `UPDATE pool SET value = value + 3 WHERE key = 'high_water'`);
    sql(dir, `INSERT INTO lineages VALUES (77, 1, 55, 1, 4096)`);
    const broken = await fsckPool(dir);
    const text = broken.problems.join('\n');
    assert.match(text, new RegExp(`extent ${extent} is both free and used`));
    assert.match(text, /3 extents leaked/);
    assert.match(text, /extent 999999 outside the pool/);
    assert.match(text, /lineage 77: parent lineage 55 does not exist/);
    assert.equal(broken.ok, false);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('strata fsck exits non-zero on problems; --repair reclaims leaks and keeps the data', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'strata-fsck-'));
  try {
    const dir = await makePool(dataDir);
    const run = (...args: string[]) =>
      spawnSync(strata, ['fsck', '--data-dir', dataDir, ...args], { encoding: 'utf8' });
    const ok = run();
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /clean/);
    sql(dir, `UPDATE pool SET value = value + 2 WHERE key = 'high_water'`);
    const bad = run();
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /PROBLEM: 2 extents leaked/);
    const repaired = run('--repair');
    assert.equal(repaired.status, 0, repaired.stdout);
    assert.match(repaired.stdout, /returned 2 leaked extents/);
    const store = await openBlockStore({ dir });
    const b = await store.read('vol-b', 0, 40_000);
    const expected = Buffer.alloc(40_000, 7);
    expected.fill(9, 100, 5100);
    assert.deepEqual(b, expected);
    await store.close();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
