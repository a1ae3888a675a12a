// The `instances` table: EC2 instances and their state machine (pending, running, stopping, stopped,
// shutting-down, terminated); disks live in block_device_mappings.
import type { ColumnType } from 'kysely';

/** One EC2 instance of one account. */
export interface InstancesTable {
  /** `i-` + 17 hex digits; also the VM's id in the driver. */
  id: string;
  account_id: string;
  /** `r-` + 17 hex digits: every instance of one RunInstances call shares it. */
  reservation_id: string;
  image_id: string;
  instance_type: string;
  /** pending | running | stopping | stopped | shutting-down | terminated. */
  state: string;
  /** EC2's stateTransitionReason text ('' when none). */
  state_transition_reason: string;
  /** EC2's stateReason code (`Client.UserInitiatedShutdown` …), or null. */
  state_reason_code: string | null;
  availability_zone: string;
  /** Base64 user data exactly as given, or null. */
  user_data: string | null;
  /** stop | terminate. */
  shutdown_behavior: string;
  /** 0/1. */
  disable_api_termination: number;
  root_device_name: string;
  /** ebs | instance-store. */
  root_device_type: string;
  /** legacy-bios | uefi (EC2's names). */
  boot_mode: string;
  /** Position in its reservation (amiLaunchIndex). */
  launch_index: number;
  client_token: string | null;
  /** ISO-8601 UTC of the last start. */
  launch_time: string;
  /** ISO-8601 UTC when it reached terminated (it stays visible for a while), else null. */
  terminated_at: string | null;
  /** ISO-8601 UTC, set once. */
  created_at: ColumnType<string, string, never>;
  /** The launch key pair's name (KeyName), kept after the key pair is deleted, as EC2 does. */
  key_name: string | null;
  /** The launch key pair's OpenSSH public key, served by IMDS as public-keys/0/openssh-key. */
  key_public_key: string | null;
  /** The current public address (auto-assigned or Elastic), written only by cloud/addresses/. */
  public_ip: string | null;
  /** `ec2-127-100-0-7.compute-1.amazonaws.com` for public_ip, or null. */
  public_dns_name: string | null;
  /** MetadataOptions.HttpTokens: optional | required. */
  metadata_http_tokens: string;
  /** MetadataOptions.HttpEndpoint: enabled | disabled. */
  metadata_http_endpoint: string;
  /** MetadataOptions.HttpPutResponseHopLimit: 1..64. */
  metadata_hop_limit: number;
  /** MetadataOptions.InstanceMetadataTags: enabled | disabled. */
  metadata_tags: string;
  /** disabled | enabled: detailed monitoring as asked (Strata has no CloudWatch; echoed only). */
  monitoring_state: string;
  /** default | dedicated | host, as asked (echoed only: every instance runs on this host). */
  tenancy: string;
  /** 0/1, as asked (echoed only). */
  ebs_optimized: number;
  /** 0/1: sourceDestCheck (1, as EC2, until modified). */
  source_dest_check: number;
  /** 0/1: stop protection; StopInstances is refused while 1. */
  disable_api_stop: number;
}
