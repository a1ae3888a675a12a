// cloneFromSnapshot: an evict that lands between "bring it back" and "clone" costs one more round, not an error.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { units } from '../../base/limits.ts';
import { StoreError, type BlockStore } from '../../storage/block-store.ts';
import { tempPool } from '../../objectstore/testing/pools.ts';
import { cloneFromSnapshot } from './clone-snapshot.ts';

const pools: (() => Promise<void>)[] = [];
after(async () => {
  for (const dispose of pools) await dispose();
});

test('an evict racing the clone is retried once after bringing the snapshot back; other errors pass', async () => {
  const pool = await tempPool();
  pools.push(pool.dispose);
  const store = pool.store;
  await store.createVolume('vol-source', units.MiB);
  await store.write('vol-source', 0, Buffer.alloc(4096, 7));
  let backs = 0;
  // "Bring it back": the snapshot is remade from the source volume whenever it is missing.
  const ensure = async (id: string): Promise<void> => {
    if (store.device(id) !== undefined) return;
    backs++;
    await store.snapshot('vol-source', id);
  };
  // The first clone finds the snapshot evicted under it, as an online evict would leave it.
  let evictions = 1;
  // cloneFromSnapshot uses only these two.
  const racing = {
    device: (id: string) => store.device(id),
    clone: async (snapshotId: string, volumeId: string, sizeBytes?: number) => {
      if (evictions-- > 0) await store.deleteSnapshot(snapshotId);
      return store.clone(snapshotId, volumeId, sizeBytes);
    },
  } as unknown as BlockStore;
  await cloneFromSnapshot(racing, ensure, 'snap-gold', 'vol-clone');
  assert.equal(backs, 2, 'brought back, evicted, brought back again');
  assert.equal((await store.read('vol-clone', 0, 4096))[0], 7);
  // Without a way back, or on any other error, it throws at once.
  await assert.rejects(cloneFromSnapshot(store, undefined, 'snap-none', 'vol-x'), StoreError);
  await assert.rejects(cloneFromSnapshot(store, ensure, 'snap-gold', 'vol-clone'), /exists|EEXIST/);
});
