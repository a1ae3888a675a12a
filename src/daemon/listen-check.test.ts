// A port clash, as a user meets it: a message that says what to try, and a new data dir left as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { assertCanListen, ListenError } from './listen-check.ts';
import { strataBin } from './testing/serve-process.ts';

const run = promisify(execFile);

async function occupiedPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return { port: address.port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

test('assertCanListen: a taken port is a ListenError naming the next port to try', async () => {
  const taken = await occupiedPort();
  try {
    await assert.rejects(
      assertCanListen({ host: '127.0.0.1', port: taken.port }, '--listen'),
      (error: unknown) =>
        error instanceof ListenError &&
        error.message ===
          `port ${taken.port} is in use on 127.0.0.1; is Strata already running? try --listen :${taken.port + 1}`,
    );
  } finally {
    await taken.close();
  }
  await assertCanListen({ host: '127.0.0.1', port: taken.port }, '--listen'); // free again
});

test(
  'strata serve on a taken port: a hint, exit 1, and no keys or database in the new data dir',
  {
    timeout: 60_000,
  },
  async () => {
    const parent = mkdtempSync(join(tmpdir(), 'strata-clash-'));
    const taken = await occupiedPort();
    try {
      const emptyDir = join(parent, 'empty');
      mkdirSync(emptyDir);
      for (const dataDir of [join(parent, 'absent'), emptyDir]) {
        const failed = await run(
          strataBin,
          ['serve', '--data-dir', dataDir, '--listen', `127.0.0.1:${taken.port}`, '--hypervisor', 'fake'],
          { timeout: 50_000 },
        ).then(
          () => assert.fail('strata serve started on a taken port'),
          (error: { code?: number; stderr?: string }) => error,
        );
        assert.equal(failed.code, 1);
        assert.match(
          failed.stderr ?? '',
          /is in use on 127\.0\.0\.1; is Strata already running\? try --listen :\d+/,
        );
        if (dataDir === emptyDir) assert.deepEqual(readdirSync(dataDir), []);
        else assert.equal(existsSync(dataDir), false, 'the data dir it would have made is not there');
      }
    } finally {
      await taken.close();
      rmSync(parent, { recursive: true, force: true });
    }
  },
);
