// The console log stays bounded on disk however much the guest prints, and its tail is exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { limits } from '../../base/limits.ts';
import { ConsoleLog, readConsoleTail } from './console-log.ts';

test('a chatty guest: the log file stays under twice the limit and the tail is the newest bytes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-console-'));
  const socketPath = join(dir, 'console.sock');
  const logPath = join(dir, 'console.log');
  let sent = '';
  const server = createServer((socket) => {
    // Numbered lines, so a wrong tail (gap, duplicate, stale bytes) shows.
    for (let line = 0; line < 20_000; line++) {
      const text = `line ${line} ${'x'.repeat(line % 37)}\n`;
      sent += text;
      socket.write(text);
    }
    socket.end();
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  try {
    const log = await ConsoleLog.connect(socketPath, logPath);
    assert.ok(sent.length > 4 * limits.consoleBytesMax, 'the guest printed well past the limit');
    for (
      let tries = 0;
      tries < 200 &&
      !(await readConsoleTail(logPath)).endsWith('line 19999 ' + 'x'.repeat(19999 % 37) + '\n');
      tries++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    log.close();
    assert.ok((await stat(logPath)).size <= 2 * limits.consoleBytesMax);
    assert.equal(await readConsoleTail(logPath), sent.slice(-limits.consoleBytesMax));
    assert.equal(await readConsoleTail(join(dir, 'missing.log')), '');
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  }
});
