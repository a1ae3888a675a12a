// The `snapshots` and `snapshot_permissions` tables: EBS snapshots (data in the block store under the same
// id) and their createVolumePermission grants.
import type { ColumnType } from 'kysely';

/** One EBS snapshot, owned by one account. */
export interface SnapshotsTable {
  /** `snap-` + 17 hex digits; also the block store device id. */
  id: string;
  account_id: string;
  /** The volume it was taken from (kept after that volume is gone, as EC2 does). */
  volume_id: string;
  volume_size_gib: number;
  description: string;
  /** pending | completed | error. */
  state: string;
  /** 0..100. */
  progress: number;
  /** 0/1. */
  encrypted: number;
  kms_key_id: string | null;
  /** For a CopySnapshot result: the source snapshot id. */
  source_snapshot_id: string | null;
  /** ISO-8601 UTC, set once. */
  start_time: ColumnType<string, string, never>;
  /** 0/1: its manifest is durable in the snapshot store (cloud/ebs/snapshot-archive.ts). */
  archived: ColumnType<number, number | undefined, number>;
  /** Why the snapshot is `error` (EC2 StateMessage), e.g. the archive's last failure. */
  state_message: ColumnType<string | null, string | null | undefined, string | null>;
  /** 0/1: its pool copy was restored from the archive (a new lineage: never an incremental parent). */
  restored: ColumnType<number, number | undefined, number>;
}

/** One createVolumePermission grant: to an account (`kind` user) or to everyone (`kind` group, grantee `all`). */
export interface SnapshotPermissionsTable {
  snapshot_id: string;
  /** user | group. */
  kind: string;
  /** A 12-digit account id, or `all`. */
  grantee: string;
}
