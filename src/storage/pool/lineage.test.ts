import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lineage, resolveBlock, rowAt } from './lineage.ts';
import { TOMBSTONE } from './meta-db.ts';

test('a view at generation g sees the newest row born at or before g', () => {
  const chain = [
    { birth: 5, extent: 50 },
    { birth: 3, extent: TOMBSTONE },
    { birth: 1, extent: 10 },
  ];
  assert.equal(rowAt(chain, Infinity)?.extent, 50);
  assert.equal(rowAt(chain, 4)?.extent, TOMBSTONE);
  assert.equal(rowAt(chain, 2)?.extent, 10);
  assert.equal(rowAt(chain, 0), undefined);
});

test('clones read through their parent view, zeros past the parent size', () => {
  const base = new Lineage(1, 3, null);
  base.blocks.set(0, [
    { birth: 2, extent: 20 },
    { birth: 1, extent: 10 },
  ]);
  base.blocks.set(1, [{ birth: 1, extent: 11 }]);
  const clone = new Lineage(2, 1, { lineage: base, gen: 1, bytes: 4096, blocks: 1 });
  base.children.add(clone);
  assert.equal(resolveBlock(clone, Infinity, 0), 10, 'parent view at gen 1');
  assert.equal(resolveBlock(clone, Infinity, 1), TOMBSTONE, 'past the parent size');
  clone.blocks.set(0, [{ birth: 1, extent: 30 }]);
  assert.equal(resolveBlock(clone, Infinity, 0), 30);
  const grandchild = new Lineage(3, 1, { lineage: clone, gen: 1, bytes: 4096, blocks: 1 });
  assert.equal(resolveBlock(grandchild, Infinity, 0), 30);
});

test('visibility (ownership): a row is kept only while the head or a frozen view sees it', () => {
  const lineage = new Lineage(1, 4, null);
  lineage.volumeId = 'vol-a';
  const chain = [
    { birth: 4, extent: 40 },
    { birth: 2, extent: 20 },
    { birth: 1, extent: 10 },
  ];
  lineage.snapshots.set(2, 'snap-2');
  assert.deepEqual(
    [0, 1, 2].map((i) => lineage.isVisible(chain, i)),
    [true, true, false],
  );
  lineage.snapshots.set(1, 'snap-1');
  lineage.invalidateViews();
  assert.deepEqual(
    [0, 1, 2].map((i) => lineage.isVisible(chain, i)),
    [true, true, true],
  );
  lineage.volumeId = null;
  lineage.snapshots.delete(2);
  lineage.invalidateViews();
  assert.deepEqual(
    [0, 1, 2].map((i) => lineage.isVisible(chain, i)),
    [false, false, true],
  );
  assert.equal(lineage.isDead(), false);
  lineage.snapshots.delete(1);
  lineage.invalidateViews();
  assert.equal(lineage.isDead(), true);
});
