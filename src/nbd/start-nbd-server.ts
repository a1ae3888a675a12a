// The NBD layer's way in: starts the server (server.ts) behind the nbd-server.ts interface, which stays a
// leaf that the implementation can import.
import { assert } from '../base/assert.ts';
import type { NbdServer, NbdServerOptions } from './nbd-server.ts';
import { StrataNbdServer } from './server.ts';

/** Starts serving every volume (read-write) and snapshot (read-only) of `store` under its id. */
export async function startNbdServer(options: NbdServerOptions): Promise<NbdServer> {
  assert(options.socketPath.startsWith('/'), 'startNbdServer: socketPath must be absolute');
  const server = new StrataNbdServer(options);
  await server.listen();
  return server;
}
