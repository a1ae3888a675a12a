// The `block_device_mappings` table: the disks of an image (snapshots, sizes) and of an instance (volumes,
// ephemeral disks), one row per device name, in the order EC2 lists them.
/** One mapping of an image (`owner_id` ami-…) or an instance (`owner_id` i-…). */
export interface BlockDeviceMappingsTable {
  owner_id: string;
  account_id: string;
  /** `/dev/xvda`, `/dev/sdf` … unique per owner. */
  device_name: string;
  /** Order of the mapping (root first for instances). */
  position: number;
  /** Image mappings: the snapshot to create the volume from, or null for a blank volume. */
  snapshot_id: string | null;
  /** Instance mappings: the attached volume, or null. */
  volume_id: string | null;
  volume_size_gib: number | null;
  volume_type: string | null;
  iops: number | null;
  throughput: number | null;
  /** 0/1. */
  delete_on_termination: number;
  /** 0/1: a NoDevice entry (suppresses the image's mapping of that name). */
  no_device: number;
  /** `ephemeralN` for instance-store disks, else null. */
  virtual_name: string | null;
  /** Instance mappings: attaching | attached | detaching. */
  attachment_state: string | null;
  attach_time: string | null;
}
