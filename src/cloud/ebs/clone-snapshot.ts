// Cloning a volume from a snapshot that may live only in the archive: bring it back first (lazily), and
// once more if an online `strata snapshot evict` dropped it between the two steps.
import { StoreError, type BlockStore } from '../../storage/block-store.ts';

/** Brings back an archived snapshot whose pool copy is gone (cloud/ebs/snapshot-archive.ts). */
export type EnsureSnapshotInPool = (snapshotId: string) => Promise<void>;

/** `store.clone(snapshotId, volumeId, sizeBytes)` after `ensure(snapshotId)`, retried once after a race. */
export async function cloneFromSnapshot(
  store: BlockStore,
  ensure: EnsureSnapshotInPool | undefined,
  snapshotId: string,
  volumeId: string,
  sizeBytes?: number,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    await ensure?.(snapshotId);
    try {
      await store.clone(snapshotId, volumeId, sizeBytes);
      return;
    } catch (error) {
      const evicted =
        error instanceof StoreError && error.code === 'ENOENT' && store.device(snapshotId) === undefined;
      if (!evicted || ensure === undefined || attempt > 0) throw error;
    }
  }
}
