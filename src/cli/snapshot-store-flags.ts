// The `--snapshot-store*` flags of `strata serve` and of the archive verbs of `strata snapshot`, with their
// environment variables (flags win). S3 credentials: an explicit pair, else the standard AWS chain.
import { Option } from 'commander';
import { parseSnapshotStoreOption, type SnapshotStoreConfig } from '../objectstore/snapshot-store.ts';

/** The parsed flags, as commander hands them over. */
export interface SnapshotStoreFlags {
  snapshotStore: string;
  snapshotStoreEndpoint?: string;
  snapshotStoreRegion?: string;
  snapshotStoreAccessKeyId?: string;
  snapshotStoreSecretAccessKey?: string;
}

/** `--snapshot-store` (STRATA_SNAPSHOT_STORE) and its S3 settings. */
export function snapshotStoreOptions(): Option[] {
  return [
    new Option('--snapshot-store <where>', 'archive snapshots: none, dir:/path or s3://bucket/prefix')
      .env('STRATA_SNAPSHOT_STORE')
      .default('none'),
    new Option('--snapshot-store-endpoint <url>', 'S3-compatible endpoint (MinIO, Ceph RGW …)').env(
      'STRATA_SNAPSHOT_STORE_ENDPOINT',
    ),
    new Option('--snapshot-store-region <name>', 'S3 region (default: the AWS chain)').env(
      'STRATA_SNAPSHOT_STORE_REGION',
    ),
    new Option('--snapshot-store-access-key-id <id>', 'S3 key id (default: the standard AWS chain)').env(
      'STRATA_SNAPSHOT_STORE_ACCESS_KEY_ID',
    ),
    new Option('--snapshot-store-secret-access-key <secret>', 'S3 secret, with the key id').env(
      'STRATA_SNAPSHOT_STORE_SECRET_ACCESS_KEY',
    ),
  ];
}

/** The store the flags name; throws a message naming the flags on bad input. */
export function snapshotStoreFromFlags(flags: SnapshotStoreFlags): SnapshotStoreConfig {
  const id = flags.snapshotStoreAccessKeyId;
  const secret = flags.snapshotStoreSecretAccessKey;
  if ((id === undefined) !== (secret === undefined)) {
    throw new Error(
      'set both --snapshot-store-access-key-id and --snapshot-store-secret-access-key, or neither',
    );
  }
  return parseSnapshotStoreOption(flags.snapshotStore, {
    ...(flags.snapshotStoreEndpoint !== undefined ? { endpoint: flags.snapshotStoreEndpoint } : {}),
    ...(flags.snapshotStoreRegion !== undefined ? { region: flags.snapshotStoreRegion } : {}),
    ...(id !== undefined && secret !== undefined
      ? { credentials: { accessKeyId: id, secretAccessKey: secret } }
      : {}),
  });
}
