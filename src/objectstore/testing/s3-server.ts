// Starts a real S3-protocol server (s3rver, in a child process) on 127.0.0.1 for tests. s3rver itself checks
// only the access key id; a front proxy in the child verifies every SigV4 signature (docs/archive.md).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { assert } from '../../base/assert.ts';

/** A running test S3 server and the settings to reach it. */
export interface TestS3Server {
  readonly endpoint: string;
  readonly bucket: string;
  /** s3rver's built-in key pair; a wrong secret gets SignatureDoesNotMatch. */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  stop(): Promise<void>;
}

/** Starts s3rver on an ephemeral port with one empty bucket, storing under a temp dir. */
export async function startTestS3Server(bucket = 'strata-archive'): Promise<TestS3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'strata-s3rver-'));
  const main = fileURLToPath(new URL('./s3-server-main.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', '--import', 'tsx', main, directory, bucket],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout });
  const [line] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(() => ['exited']),
  ])) as string[];
  const port = (JSON.parse(line === 'exited' ? '{}' : (line ?? '{}')) as { port?: number }).port;
  assert(port !== undefined && port > 0, `s3rver did not start: ${line}`);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    async stop() {
      if (child.exitCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
}
