// One private unix socket per instance, on which the metadata service answers that instance alone. The
// instance's QEMU relays its guest's connections to 169.254.169.254:80 here (docs/networking.md), so the
// socket a request arrives on is the instance's identity.
import { createServer, type Server } from 'node:http';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { assert } from '../base/assert.ts';
import { listenPrivateSocket } from '../base/private-socket.ts';
import type { createImdsHandler } from './imds-handler.ts';

/** Requests a guest can make on one connection before it is closed; bounds a connection's life. */
const REQUESTS_PER_CONNECTION_MAX = 1000;
/** A request's headers must arrive within this; bounds idle relays. */
const HEADERS_TIMEOUT_MS = 10_000;

/** The socket path of one instance's metadata channel under `directory`. */
export function imdsSocketPath(directory: string, instanceId: string): string {
  assert(
    /^i-[0-9a-f]{17}$|^i-[0-9a-z-]+$/.test(instanceId),
    `imdsSocketPath: not an instance id: ${instanceId}`,
  );
  return join(directory, `${instanceId}.imds.sock`);
}

/** A listening channel; close() stops it and cuts its connections. */
export interface ImdsChannel {
  readonly path: string;
  close(): Promise<void>;
}

/** Serves `handler` for `instanceId` on its socket under `directory`. */
export async function listenImdsChannel(
  handler: ReturnType<typeof createImdsHandler>,
  directory: string,
  instanceId: string,
): Promise<ImdsChannel> {
  const path = imdsSocketPath(directory, instanceId);
  const server: Server = createServer(
    { requestTimeout: HEADERS_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS, maxHeaderSize: 16 * 1024 },
    (request, response) => void handler(instanceId, request, response),
  );
  server.maxRequestsPerSocket = REQUESTS_PER_CONNECTION_MAX;
  await listenPrivateSocket(server, path);
  return {
    path,
    async close() {
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      // Bound under a temporary name and renamed (private-socket.ts), so close() does not unlink it.
      await rm(path, { force: true });
    },
  };
}
