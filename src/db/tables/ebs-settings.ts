// The `ebs_encryption_defaults` and `fast_snapshot_restores` tables: per-account EBS settings of a region.

/** One account's EBS encryption defaults in one region (no row: EC2's defaults, off and the AWS-managed key). */
export interface EbsEncryptionDefaultsTable {
  account_id: string;
  region: string;
  /** 0/1: EnableEbsEncryptionByDefault. */
  encryption_by_default: number;
  /** ModifyEbsDefaultKmsKeyId's key, or null for the AWS-managed `alias/aws/ebs`. */
  kms_key_id: string | null;
}

/** Fast snapshot restore of one snapshot in one zone. */
export interface FastSnapshotRestoresTable {
  snapshot_id: string;
  availability_zone: string;
  /** The snapshot's owner, who enabled it. */
  account_id: string;
  /** enabling | optimizing | enabled | disabling (EC2's states; disabled ones are deleted). */
  state: string;
  /** ISO-8601 UTC. */
  enabling_time: string;
  /** ISO-8601 UTC once enabled, else null. */
  enabled_time: string | null;
}
