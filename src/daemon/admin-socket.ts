// `<data-dir>/admin.sock` (0600): operator verbs that need the running daemon, for `strata` on the same host.
// Who may open the socket may run them, as with nbd.sock: file permissions are the authentication.
// Protocol: one JSON request per line, `{"verb":"evict","snapshotId":"snap-…"}`; one JSON reply per line,
// `{"ok":true,"message":"…"}` or `{"ok":false,"error":{"name":"ArchiveError","message":"…"}}`.
import { rm } from 'node:fs/promises';
import net from 'node:net';
import { createInterface } from 'node:readline';
import type { Logger } from '../base/log.ts';
import { listenPrivateSocket } from '../base/private-socket.ts';

/** A verb's handler: resolves to the message printed for the operator, throws to report a failure. */
export type AdminVerb = (request: Record<string, unknown>) => Promise<string>;

/** A listening admin socket. */
export interface AdminSocket {
  close(): Promise<void>;
}

/** Largest request line accepted (requests are a verb and an id or two), and bytes per connection. */
const requestBytesMax = 4096;
const connectionBytesMax = 64 * 1024;

/** Serves `verbs` on `path`. */
export async function startAdminSocket(
  path: string,
  verbs: Readonly<Record<string, AdminVerb>>,
  logger: Logger,
): Promise<AdminSocket> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const lines = createInterface({ input: socket, crlfDelay: Infinity });
    lines.on('line', (line) => {
      void answer(line, verbs, logger).then((reply) => socket.write(`${JSON.stringify(reply)}\n`));
    });
    socket.on('data', () => {
      if (socket.bytesRead > connectionBytesMax) socket.destroy();
    });
  });
  await listenPrivateSocket(server, path);
  return {
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
      await rm(path, { force: true });
    },
  };
}

async function answer(
  line: string,
  verbs: Readonly<Record<string, AdminVerb>>,
  logger: Logger,
): Promise<{ ok: true; message: string } | { ok: false; error: { name: string; message: string } }> {
  try {
    if (line.length > requestBytesMax) throw new Error('request too long');
    const request: unknown = JSON.parse(line);
    if (typeof request !== 'object' || request === null || Array.isArray(request))
      throw new Error('a request is a JSON object');
    const { verb } = request as { verb?: unknown };
    const handler = typeof verb === 'string' ? verbs[verb] : undefined;
    if (handler === undefined) throw new Error(`unknown verb ${JSON.stringify(verb)}`);
    const message = await handler(request as Record<string, unknown>);
    logger.info({ verb }, `admin: ${message}`);
    return { ok: true, message };
  } catch (error) {
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    return { ok: false, error: { name, message } };
  }
}

/** Sends one request to the admin socket at `path` and returns the daemon's message; throws its error (same name). */
export async function adminRequest(path: string, request: Record<string, unknown>): Promise<string> {
  const socket = net.connect({ path });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.write(`${JSON.stringify(request)}\n`);
    const lines = createInterface({ input: socket, crlfDelay: Infinity });
    const [line] = (await new Promise<string[]>((resolve, reject) => {
      lines.once('line', (first) => resolve([first]));
      socket.once('error', reject);
      socket.once('close', () => reject(new Error('the daemon closed the admin socket without answering')));
    })) as [string];
    const reply = JSON.parse(line) as {
      ok: boolean;
      message?: string;
      error?: { name: string; message: string };
    };
    if (!reply.ok) {
      const error = new Error(reply.error?.message ?? 'the daemon refused');
      error.name = reply.error?.name ?? 'Error';
      throw error;
    }
    return reply.message ?? '';
  } finally {
    socket.destroy();
  }
}
