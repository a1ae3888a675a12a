// The lineage graph's model (src/console/app/lineage/lineage-graph.ts, pure and DOM-free, so it runs here
// under Node): edges from Describe* results, and a 1,000-node pool folded and focused to a readable size.
// It sits outside app/ because app/'s tsconfig is the browser's, without Node's test types.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildLineage, collapse, focusOn } from './app/lineage/lineage-graph.ts';
import type { LineageGraph } from './app/lineage/lineage-graph.ts';

const id = (prefix: string, n: number): string => `${prefix}-${n.toString(16).padStart(17, '0')}`;

// 10 golden volumes, a snapshot of each, 90 clones of each snapshot, 9 images, and 100 unrelated volumes.
function bigPool(): LineageGraph {
  const volumes: { VolumeId: string; SnapshotId?: string; State: string }[] = [];
  const snapshots: { SnapshotId: string; VolumeId: string; State: string }[] = [];
  for (let g = 0; g < 10; g += 1) {
    volumes.push({ VolumeId: id('vol', g), State: 'available' });
    snapshots.push({ SnapshotId: id('snap', g), VolumeId: id('vol', g), State: 'completed' });
    for (let c = 0; c < 90; c += 1)
      volumes.push({
        VolumeId: id('vol', 1000 + g * 100 + c),
        SnapshotId: id('snap', g),
        State: 'available',
      });
  }
  for (let u = 0; u < 100; u += 1) volumes.push({ VolumeId: id('vol', 50_000 + u), State: 'available' });
  const images = Array.from({ length: 9 }, (_, i) => ({
    ImageId: id('ami', i),
    Name: `img${i}`,
    State: 'available',
    BlockDeviceMappings: [{ Ebs: { SnapshotId: id('snap', i) } }],
  }));
  return buildLineage({ volumes, snapshots, images });
}

test('edges: volume → its snapshot → its clones and images; a gone volume stays as "deleted"', () => {
  const graph = buildLineage({
    volumes: [{ VolumeId: 'vol-b', SnapshotId: 'snap-a', State: 'available' }],
    snapshots: [{ SnapshotId: 'snap-a', VolumeId: 'vol-gone', State: 'completed' }],
    images: [
      {
        ImageId: 'ami-1',
        Name: 'one',
        State: 'available',
        BlockDeviceMappings: [{ Ebs: { SnapshotId: 'snap-a' } }],
      },
    ],
  });
  assert.deepEqual(graph.edges.map((e) => `${e.from}>${e.to}`).sort(), [
    'snap-a>ami-1',
    'snap-a>vol-b',
    'vol-gone>snap-a',
  ]);
  assert.equal(graph.nodes.find((n) => n.id === 'vol-gone')?.state, 'deleted');
});

test('a 1,000-node pool collapses to its structure, and every drawn edge joins drawn nodes', () => {
  const graph = bigPool();
  assert.ok(graph.nodes.length >= 1000, `${graph.nodes.length} nodes`);
  const shown = collapse(graph, 3);
  assert.ok(shown.nodes.length <= 100, `${shown.nodes.length} nodes shown`);
  const ids = new Set(shown.nodes.map((n) => n.id));
  for (const edge of shown.edges)
    assert.ok(ids.has(edge.from) && ids.has(edge.to), `${edge.from}>${edge.to}`);
  const folded = shown.nodes.filter((n) => n.kind === 'group').reduce((sum, n) => sum + (n.count ?? 0), 0);
  assert.equal(
    shown.nodes.length - shown.nodes.filter((n) => n.kind === 'group').length + folded,
    graph.nodes.length,
    'nothing lost, only folded',
  );
});

test('focus keeps exactly what a resource came from and what depends on it', () => {
  const graph = bigPool();
  const onSnapshot = focusOn(graph, id('snap', 3));
  assert.equal(onSnapshot.nodes.length, 1 + 1 + 90 + 1, 'its volume, itself, its 90 clones, its image');
  const onClone = focusOn(graph, id('vol', 1000 + 3 * 100 + 7));
  assert.deepEqual(
    onClone.nodes.map((n) => n.id).sort(),
    [id('snap', 3), id('vol', 3), id('vol', 1000 + 3 * 100 + 7)].sort(),
  );
});
