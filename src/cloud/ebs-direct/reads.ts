// Reading snapshots through the EBS direct API: ListSnapshotBlocks, ListChangedBlocks, GetSnapshotBlock.
// Block lists come from the block store's allocation map (`mapRange`) and its lineage diff (`diff`), so a
// snapshot made by CreateSnapshot reads exactly like one made by StartSnapshot.
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { assert } from '../../base/assert.ts';
import { limits } from '../../base/limits.ts';
import type { Database } from '../../db/schema.ts';
import type { BlockStore, MappedRange } from '../../storage/block-store.ts';
import { checkSnapshotId, lineageRoot, readableSnapshot, type SnapshotAccess } from './access.ts';
import { validation } from './exceptions.ts';
import type { EbsTokens } from './tokens.ts';

const blockBytes = limits.ebsBlockBytes;

/** Paging parameters shared by both listings. */
export interface ListPage {
  readonly startingBlockIndex: number | undefined;
  readonly maxResults: number | undefined;
  readonly nextToken: string | undefined;
}

/** One listed block. */
export interface ListedBlock {
  readonly blockIndex: number;
  readonly blockToken: string;
}

/** One changed block: tokens for whichever side holds data there. */
export interface ChangedBlock {
  readonly blockIndex: number;
  readonly firstBlockToken: string | undefined;
  readonly secondBlockToken: string | undefined;
}

/** What both listings answer besides the blocks. */
export interface ListingMeta {
  readonly expiryTime: Date;
  readonly volumeSizeGiB: number;
  readonly blockSizeBytes: number;
  readonly nextToken: string | undefined;
}

/** What the readers need. */
export interface ReaderDeps extends SnapshotAccess {
  readonly db: Kysely<Database>;
  readonly tokens: EbsTokens;
  /** BlockToken lifetime, in seconds (asked per listing so it can change at run time). */
  readonly blockTokenTtlSeconds: () => number;
  readonly now: () => number;
}

/** ListSnapshotBlocks: the blocks of a snapshot that hold data, in index order. */
export async function listSnapshotBlocks(
  deps: ReaderDeps,
  accountId: string,
  snapshotId: string,
  page: ListPage,
): Promise<ListingMeta & { blocks: ListedBlock[] }> {
  const row = await readableSnapshot(deps, accountId, snapshotId);
  const listing = `blocks:${snapshotId}`;
  const { start, max } = pagePosition(deps.tokens, listing, page);
  const sizeBytes = deviceSize(deps.store, snapshotId);
  const from = Math.min(start * blockBytes, sizeBytes);
  const indexes = blockIndexes(
    deps.store.mapRange(snapshotId, from, sizeBytes - from),
    start,
    max + 1,
    false,
  );
  const expiresAt = expirySeconds(deps);
  const blocks = indexes.slice(0, max).map((blockIndex) => ({
    blockIndex,
    blockToken: deps.tokens.blockToken(snapshotId, blockIndex, expiresAt),
  }));
  const next = indexes[max];
  return {
    blocks,
    ...meta(row.volume_size_gib, expiresAt),
    nextToken: next === undefined ? undefined : deps.tokens.pageToken(listing, next),
  };
}

/** ListChangedBlocks: blocks that differ between two snapshots of one lineage (or that hold data, alone). */
export async function listChangedBlocks(
  deps: ReaderDeps,
  accountId: string,
  secondId: string,
  firstId: string | undefined,
  page: ListPage,
): Promise<ListingMeta & { changedBlocks: ChangedBlock[] }> {
  const { db, store, tokens } = deps;
  const second = await readableSnapshot(deps, accountId, secondId);
  if (firstId !== undefined) {
    await readableSnapshot(deps, accountId, firstId);
    if ((await lineageRoot(db, firstId)) !== (await lineageRoot(db, secondId))) {
      throw validation(
        'UNRELATED_SNAPSHOTS',
        `The snapshots ${firstId} and ${secondId} are not of the same volume or snapshot lineage.`,
      );
    }
  }
  const listing = `changed:${firstId ?? ''}:${secondId}`;
  const { start, max } = pagePosition(tokens, listing, page);
  const indexes = blockIndexes(store.diff(firstId ?? null, secondId), start, max + 1, true);
  const expiresAt = expirySeconds(deps);
  const changedBlocks = indexes.slice(0, max).map((blockIndex) => ({
    blockIndex,
    firstBlockToken:
      firstId !== undefined && holdsData(store, firstId, blockIndex)
        ? tokens.blockToken(firstId, blockIndex, expiresAt)
        : undefined,
    secondBlockToken: holdsData(store, secondId, blockIndex)
      ? tokens.blockToken(secondId, blockIndex, expiresAt)
      : undefined,
  }));
  const next = indexes[max];
  return {
    changedBlocks,
    ...meta(second.volume_size_gib, expiresAt),
    nextToken: next === undefined ? undefined : tokens.pageToken(listing, next),
  };
}

/** GetSnapshotBlock: one block's bytes and their base64 SHA-256, after checking its BlockToken. */
export async function getSnapshotBlock(
  deps: ReaderDeps,
  accountId: string,
  snapshotId: string,
  blockIndex: number,
  blockToken: string,
): Promise<{ data: Buffer; checksum: string }> {
  checkSnapshotId(snapshotId);
  await readableSnapshot(deps, accountId, snapshotId);
  const why = deps.tokens.checkBlockToken(blockToken, snapshotId, blockIndex, Math.floor(deps.now() / 1000));
  if (why !== undefined) throw validation('INVALID_BLOCK_TOKEN', `The block token is invalid: ${why}.`);
  const sizeBytes = deviceSize(deps.store, snapshotId);
  if ((blockIndex + 1) * blockBytes > sizeBytes) {
    throw validation('INVALID_BLOCK', `Block index ${blockIndex} is past the end of the snapshot.`);
  }
  const data = await deps.store.read(snapshotId, blockIndex * blockBytes, blockBytes);
  assert(data.length === blockBytes, 'store returned a short block');
  return { data, checksum: createHash('sha256').update(data).digest('base64') };
}

function pagePosition(tokens: EbsTokens, listing: string, page: ListPage): { start: number; max: number } {
  const max = page.maxResults ?? limits.ebsListResultsMax;
  if (!Number.isSafeInteger(max) || max > limits.ebsListResultsMax || max < 0) {
    throw validation(
      'INVALID_PARAMETER_VALUE',
      `MaxResults must be an integer from 100 to ${limits.ebsListResultsMax}: got ${String(page.maxResults)}.`,
    );
  }
  const startingBlockIndex = page.startingBlockIndex ?? 0;
  if (!Number.isSafeInteger(startingBlockIndex) || startingBlockIndex < 0) {
    throw validation(
      'INVALID_PARAMETER_VALUE',
      `StartingBlockIndex must be 0 or more: got ${startingBlockIndex}.`,
    );
  }
  // The EBS FAQ: a MaxResults under 100 still returns up to 100 blocks.
  const clamped = Math.max(max, 100);
  if (page.nextToken === undefined || page.nextToken === '')
    return { start: startingBlockIndex, max: clamped };
  const resumed = tokens.openPageToken(page.nextToken, listing);
  if (resumed === undefined) throw validation('INVALID_PAGE_TOKEN', 'The pagination token is invalid.');
  return { start: Math.max(resumed, startingBlockIndex), max: clamped };
}

// Ranges (any granularity) to sorted, distinct 512 KiB block indexes >= start; stops after `limit`.
// A diff's ranges are all changes, holes included (data trimmed away since the first snapshot); a mapRange
// answer also covers holes, which are not blocks.
function blockIndexes(
  ranges: readonly MappedRange[],
  start: number,
  limit: number,
  holesCount: boolean,
): number[] {
  const indexes: number[] = [];
  for (const range of ranges) {
    if ((!range.allocated && !holesCount) || range.length === 0) continue;
    const first = Math.max(Math.floor(range.offset / blockBytes), start);
    const last = Math.floor((range.offset + range.length - 1) / blockBytes);
    for (let index = first; index <= last; index++) {
      if (indexes.length > 0 && (indexes.at(-1) ?? -1) >= index) continue;
      indexes.push(index);
      if (indexes.length >= limit) return indexes;
    }
  }
  return indexes;
}

function holdsData(store: BlockStore, id: string, blockIndex: number): boolean {
  const sizeBytes = deviceSize(store, id);
  const offset = blockIndex * blockBytes;
  if (offset >= sizeBytes) return false;
  return store.mapRange(id, offset, Math.min(blockBytes, sizeBytes - offset)).some((r) => r.allocated);
}

function deviceSize(store: BlockStore, id: string): number {
  const device = store.device(id);
  assert(device !== undefined, `readable snapshot ${id} is missing from the store`);
  return device.sizeBytes;
}

function expirySeconds(deps: ReaderDeps): number {
  return Math.floor(deps.now() / 1000) + deps.blockTokenTtlSeconds();
}

function meta(volumeSizeGiB: number, expiresAtSeconds: number): Omit<ListingMeta, 'nextToken'> {
  return { expiryTime: new Date(expiresAtSeconds * 1000), volumeSizeGiB, blockSizeBytes: blockBytes };
}
