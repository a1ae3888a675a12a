// NBD URIs, a leaf: `strata nbd-uri` builds them without loading the server.
import { assert } from '../base/assert.ts';

/** Where a client reaches the server: the unix socket, or a TCP address. */
export type NbdEndpoint = { readonly socketPath: string } | { readonly host: string; readonly port: number };

/** The URI of an export: `nbd+unix:///NAME?socket=PATH` or `nbd://HOST:PORT/NAME`. */
export function nbdUri(exportName: string, endpoint: NbdEndpoint): string {
  const name = encodeURIComponent(exportName);
  if ('socketPath' in endpoint) {
    assert(endpoint.socketPath.startsWith('/'), 'nbdUri: socket path must be absolute');
    return `nbd+unix:///${name}?socket=${encodeURI(endpoint.socketPath)}`;
  }
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return `nbd://${host}:${endpoint.port}/${name}`;
}
