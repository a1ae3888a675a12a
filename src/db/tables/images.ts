// The `images` and `image_launch_permissions` tables: AMIs (their disks are snapshots named in
// block_device_mappings) and who may launch them.
import type { ColumnType } from 'kysely';

/** One registered AMI of one account. */
export interface ImagesTable {
  /** `ami-` + 17 hex digits. */
  id: string;
  account_id: string;
  name: string;
  description: string;
  /** pending | available | failed (deregistered images are removed). */
  state: string;
  /** x86_64 (the only architecture Strata runs). */
  architecture: string;
  root_device_name: string;
  /** ebs | instance-store. */
  root_device_type: string;
  /** hvm. */
  virtualization_type: string;
  /** legacy-bios | uefi, or null when unset (EC2 then boots with the instance type's default). */
  boot_mode: string | null;
  /** 0/1. */
  ena_support: number;
  /** The instance CreateImage copied, or null for RegisterImage. */
  source_instance_id: string | null;
  /** ISO-8601 UTC, set once. */
  creation_date: ColumnType<string, string, never>;
}

/** One launchPermission grant: to an account (`kind` user) or to everyone (`kind` group, grantee `all`). */
export interface ImageLaunchPermissionsTable {
  image_id: string;
  /** user | group. */
  kind: string;
  /** A 12-digit account id, or `all`. */
  grantee: string;
}
