// Unix sockets only the daemon's user may open (mode 0600 from the first moment): NBD and the admin socket.
import { chmod, lstat, rename, rm } from 'node:fs/promises';
import * as net from 'node:net';
import { dirname, join } from 'node:path';

/** Binds `server` at `path`, replacing a stale socket file; refuses one someone still answers on. */
export async function listenPrivateSocket(server: net.Server, path: string): Promise<void> {
  await removeStaleSocket(path);
  // Bind under a temporary name, restrict it, then rename: no window where others can connect.
  const temporary = join(
    dirname(path),
    `.sock-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`,
  );
  await listenOn(server, { path: temporary });
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}

/** Listens with `options`; rejects on the first error. */
export function listenOn(server: net.Server, options: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

// A socket file left by a daemon that died is replaced; a live one (someone answers) is an error.
async function removeStaleSocket(path: string): Promise<void> {
  const stat = await lstat(path).catch(() => null);
  if (!stat) return;
  if (!stat.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  if (await socketAnswers(path)) throw new Error(`another server is listening on ${path}`);
  await rm(path, { force: true });
}

/** True when something accepts connections on unix socket `path`. */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect({ path }, () => {
      probe.destroy();
      resolve(true);
    });
    probe.on('error', () => resolve(false));
  });
}
