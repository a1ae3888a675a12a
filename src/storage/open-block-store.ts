// The block store's entry points: open a pool, check one offline. The only file outside storage/pool/ that
// imports the implementation, so block-store.ts stays a leaf that the pool itself can import.
import type { BlockStore, OpenBlockStoreOptions } from './block-store.ts';
import { openPool } from './pool/pool.ts';

/** Opens (creating if needed) the block store in `options.dir`. */
export async function openBlockStore(options: OpenBlockStoreOptions): Promise<BlockStore> {
  return openPool(options);
}

/** Offline consistency check of a pool directory (see storage/pool/fsck.ts); `repair` reclaims leaks. */
export { fsckPool, type FsckReport } from './pool/fsck.ts';
