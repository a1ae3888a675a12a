// The `--snapshot-store*` flags as commander parses them from argv and the environment (flags win).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOptions } from './testing/parse-options.ts';
import {
  snapshotStoreFromFlags,
  snapshotStoreOptions,
  type SnapshotStoreFlags,
} from './snapshot-store-flags.ts';

function parse(argv: string[], env: Record<string, string> = {}): SnapshotStoreFlags {
  return parseOptions<SnapshotStoreFlags>(snapshotStoreOptions(), argv, env);
}

test('--snapshot-store defaults to none; dir: and s3:// with endpoint, region and keys; env vars; errors', () => {
  assert.deepEqual(snapshotStoreFromFlags(parse([])), { kind: 'none' });
  assert.deepEqual(snapshotStoreFromFlags(parse(['--snapshot-store', 'dir:/srv/archive'])), {
    kind: 'dir',
    path: '/srv/archive',
  });
  const s3 = snapshotStoreFromFlags(
    parse(
      [
        '--snapshot-store',
        's3://backups/strata',
        '--snapshot-store-endpoint',
        'http://127.0.0.1:9000',
        '--snapshot-store-access-key-id',
        'AKID',
      ],
      { STRATA_SNAPSHOT_STORE_REGION: 'eu-west-1', STRATA_SNAPSHOT_STORE_SECRET_ACCESS_KEY: 'SECRET' },
    ),
  );
  assert.deepEqual(s3, {
    kind: 's3',
    bucket: 'backups',
    prefix: 'strata/',
    settings: {
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET' },
    },
  });
  assert.equal(
    snapshotStoreFromFlags(parse(['--snapshot-store', 'dir:/a'], { STRATA_SNAPSHOT_STORE: 'dir:/b' })).kind,
    'dir',
  );
  assert.deepEqual(snapshotStoreFromFlags(parse([], { STRATA_SNAPSHOT_STORE: 'dir:/b' })), {
    kind: 'dir',
    path: '/b',
  });
  assert.throws(
    () =>
      snapshotStoreFromFlags(parse(['--snapshot-store', 's3://b/p', '--snapshot-store-access-key-id', 'K'])),
    /set both --snapshot-store-access-key-id and --snapshot-store-secret-access-key/,
  );
  assert.throws(() => snapshotStoreFromFlags(parse(['--snapshot-store', 'dir:relative'])), /absolute path/);
});
