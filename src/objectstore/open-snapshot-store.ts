// Opens the backend a `--snapshot-store` option names. Apart from tests, the only file that imports the
// backends, so snapshot-store.ts stays a leaf they can import.
import { assertNever } from '../base/assert.ts';
import type { SnapshotStore, SnapshotStoreConfig } from './snapshot-store.ts';

/** Opens the configured store, or returns null for `none`. */
export async function openSnapshotStore(config: SnapshotStoreConfig): Promise<SnapshotStore | null> {
  switch (config.kind) {
    case 'none':
      return null;
    // Loaded on demand: the S3 backend pulls in the AWS SDK, which a daemon without S3 need not load.
    case 'dir': {
      const { openDirStore } = await import('./dir/dir-store.ts');
      return openDirStore(config.path);
    }
    case 's3': {
      const { openS3Store } = await import('./s3/s3-store.ts');
      return openS3Store({ bucket: config.bucket, prefix: config.prefix, ...config.settings });
    }
    default:
      return assertNever(config, 'snapshot store config');
  }
}
