// The S3 backend against a real S3-protocol server (s3rver) on 127.0.0.1, behind a proxy that verifies SigV4.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { snapshotStoreConformance } from '../snapshot-store.conformance.ts';
import { ArchiveError } from '../snapshot-store.ts';
import { startTestS3Server, type TestS3Server } from '../testing/s3-server.ts';
import { openS3Store } from './s3-store.ts';

let server: TestS3Server;
let prefixes = 0;
before(async () => {
  server = await startTestS3Server();
});
after(async () => {
  await server.stop();
});

snapshotStoreConformance('s3', async () =>
  // A fresh prefix per test keeps tests independent within one bucket.
  openS3Store({
    endpoint: server.endpoint,
    bucket: server.bucket,
    prefix: `t${++prefixes}/`,
    credentials: server.credentials,
  }),
);

test('s3: a wrong secret or an unknown key is refused (requests are really signed and checked)', async () => {
  for (const [credentials, expected] of [
    [{ accessKeyId: 'S3RVER', secretAccessKey: 'not-the-secret' }, /SignatureDoesNotMatch/],
    [{ accessKeyId: 'NOT-A-KEY', secretAccessKey: 'S3RVER' }, /InvalidAccessKeyId/],
  ] as const) {
    const store = openS3Store({
      endpoint: server.endpoint,
      bucket: server.bucket,
      prefix: 'denied/',
      credentials,
    });
    try {
      await assert.rejects(store.put('x', Buffer.from('x')), (error: unknown) => {
        return error instanceof ArchiveError && error.code === 'EIO' && expected.test(error.message);
      });
      await assert.rejects(
        store.list(''),
        (error: unknown) => error instanceof ArchiveError && expected.test(error.message),
      );
    } finally {
      await store.close();
    }
  }
});
