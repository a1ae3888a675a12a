// The `volumes` and `volume_modifications` tables: EBS volumes (their data lives in the block store under
// the same id) and the ModifyVolume history DescribeVolumesModifications reports.
import type { ColumnType } from 'kysely';

/** One EBS volume of one account. */
export interface VolumesTable {
  /** `vol-` + 17 hex digits; also the block store device id. */
  id: string;
  account_id: string;
  availability_zone: string;
  size_gib: number;
  /** The snapshot it was created from, or null. */
  snapshot_id: string | null;
  /** gp2 | gp3 | io1 | io2 | st1 | sc1 | standard. */
  volume_type: string;
  /** Effective IOPS as DescribeVolumes reports it (null for types without IOPS). */
  iops: number | null;
  /** gp3 throughput in MiB/s, else null. */
  throughput: number | null;
  /** 0/1. */
  encrypted: number;
  kms_key_id: string | null;
  /** 0/1. */
  multi_attach_enabled: number;
  /** creating | available | in-use | deleting | deleted | error. */
  state: string;
  /** 0/1: the autoEnableIO attribute. */
  auto_enable_io: number;
  /** ISO-8601 UTC, set once. */
  create_time: ColumnType<string, string, never>;
}

/** The latest modification of one volume (EC2 reports the most recent per volume). */
export interface VolumeModificationsTable {
  volume_id: string;
  account_id: string;
  /** modifying | optimizing | completed | failed. */
  state: string;
  status_message: string | null;
  progress: number;
  start_time: string;
  end_time: string | null;
  original_size_gib: number;
  original_volume_type: string;
  original_iops: number | null;
  original_throughput: number | null;
  original_multi_attach_enabled: number;
  target_size_gib: number;
  target_volume_type: string;
  target_iops: number | null;
  target_throughput: number | null;
  target_multi_attach_enabled: number;
}
