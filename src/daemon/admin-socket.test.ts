// The admin socket alone: 0600, a verb answers, bad requests get an error and the socket keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../base/log.ts';
import { adminRequest, startAdminSocket } from './admin-socket.ts';

async function rawLine(path: string, line: string): Promise<string> {
  const socket = net.connect({ path });
  socket.write(`${line}\n`);
  let text = '';
  for await (const chunk of socket) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  socket.destroy();
  return text.trim();
}

test('admin socket: mode 0600, verbs answer, errors keep their name, junk is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-admin-'));
  const path = join(dir, 'admin.sock');
  const asked: unknown[] = [];
  const admin = await startAdminSocket(
    path,
    {
      echo: (request) => {
        asked.push(request.text);
        return Promise.resolve(`echo ${String(request.text)}`);
      },
      fail: () => {
        const error = new Error('no such thing');
        error.name = 'ArchiveError';
        return Promise.reject(error);
      },
    },
    silentLogger,
  );
  try {
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal(await adminRequest(path, { verb: 'echo', text: 'hi' }), 'echo hi');
    await assert.rejects(adminRequest(path, { verb: 'fail' }), {
      name: 'ArchiveError',
      message: 'no such thing',
    });
    await assert.rejects(adminRequest(path, { verb: 'nope' }), /unknown verb "nope"/);
    assert.match(await rawLine(path, 'not json'), /"ok":false/);
    assert.match(await rawLine(path, '[1,2]'), /a request is a JSON object/);
    assert.equal(await adminRequest(path, { verb: 'echo', text: 'still here' }), 'echo still here');
    assert.deepEqual(asked, ['hi', 'still here']);
  } finally {
    await admin.close();
    await rm(dir, { recursive: true, force: true });
  }
  await assert.rejects(stat(path), 'the socket file is removed on close');
});
