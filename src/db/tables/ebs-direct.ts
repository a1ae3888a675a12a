// The `ebs_direct_uploads` and `ebs_direct_blocks` tables: snapshots being written through the EBS direct
// API (StartSnapshot … CompleteSnapshot). The snapshot itself is a row in `snapshots`; these rows add the
// hidden pool volume that receives the blocks, the timeout, the client token and each written block's checksum.
import type { ColumnType } from 'kysely';

/** One StartSnapshot: its hidden volume and bookkeeping; kept after completion for ClientToken replays. */
export interface EbsDirectUploadsTable {
  /** The `snapshots` row (and, once completed, the block store snapshot) this upload builds. */
  snapshot_id: string;
  account_id: string;
  /** The hidden block store volume receiving PutSnapshotBlock writes (no `volumes` row). */
  volume_id: string;
  parent_snapshot_id: string | null;
  /** pending | completed | error. */
  state: string;
  /** ISO-8601 UTC: a pending upload not completed by then goes to `error`. */
  deadline: string;
  client_token: string | null;
  /** SHA-256 (hex) of the StartSnapshot parameters, to tell a replay from a conflicting reuse of a token. */
  request_digest: string;
  created_at: ColumnType<string, string, never>;
}

/** The checksum of one block written to a pending upload (the latest write of that index wins). */
export interface EbsDirectBlocksTable {
  snapshot_id: string;
  block_index: number;
  /** Base64 SHA-256 of the block, as the client sent it (and we verified). */
  checksum: string;
}
