// The NBD layer's interface: a server over a block store, attachment locks, URIs. A leaf: server.ts
// implements it and start-nbd-server.ts is the way in, so nothing here imports the implementation.
import type { Logger } from '../base/log.ts';
import type { BlockStore } from '../storage/block-store.ts';
import { assert } from '../base/assert.ts';

/** Raised by lockForAttachment for operating errors (no such volume, locked by someone else). */
export class ExportLockError extends Error {
  override readonly name = 'ExportLockError';
  constructor(
    readonly code: 'ENOENT' | 'EBUSY' | 'EINVAL',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The device ids (volumes and snapshots) a TLS identity may list and open; asked afresh for every option
 * that names or lists exports. An unknown identity gets an empty set.
 */
export type NbdAuthorizer = (identity: string) => Promise<ReadonlySet<string>>;

/** TLS settings of a listener. At least one of `pskFor` and `x509` must be given. */
export interface NbdTlsOptions {
  /** The pre-shared key of a PSK identity, or null to refuse that identity. Called during the handshake. */
  readonly pskFor?: (identity: string) => Buffer | null;
  /** PEM: the server's certificate chain and key, and the CA that client certificates must chain to. */
  readonly x509?: { readonly cert: string; readonly key: string; readonly ca: string };
}

/** TLS on the TCP listener: required of every client, which then sees only what `authorize` grants it. */
export interface NbdTcpTls extends NbdTlsOptions {
  readonly authorize: NbdAuthorizer;
}

/** Where a client reaches the server: the unix socket, or a TCP address. */
export type NbdEndpoint = { readonly socketPath: string } | { readonly host: string; readonly port: number };

/** Options of startNbdServer. */
export interface NbdServerOptions {
  readonly store: BlockStore;
  /** Absolute path of the unix socket (mode 0600); a stale socket file there is replaced. */
  readonly socketPath: string;
  /**
   * Optional TCP listener (port 0 picks a free port; see `tcpAddress`). Without `tls` it serves plain NBD
   * with every export visible, which startNbdServer allows only on a loopback address.
   */
  readonly tcp?: { readonly host: string; readonly port: number; readonly tls?: NbdTcpTls };
  readonly logger?: Logger;
  /**
   * Key the secret export names are derived from (HMAC of volume id and owner). The daemon keeps it in
   * `<data-dir>/nbd-attachment.key`, so a QEMU re-adopted after a daemon restart reconnects under the same
   * name; omitted, a random key lives as long as the server.
   */
  readonly attachmentKey?: Buffer;
}

/** A running NBD server. */
export interface NbdServer {
  /** The unix socket path it listens on. */
  readonly socketPath: string;
  /** The bound TCP address, or null without TCP. */
  readonly tcpAddress: { readonly host: string; readonly port: number } | null;
  /** A URI for `exportName` on the unix socket, accepted by qemu-img, nbdcopy and nbdinfo. */
  uri(exportName: string): string;
  /**
   * Locks a volume to one attachment and returns the secret export name only `owner` (e.g. "instance i-…")
   * may use. While locked, opening the plain id fails with NBD_REP_ERR_POLICY naming the owner. Existing
   * connections through the plain id are stopped (in-flight requests answered, then closed). Asking again
   * with the same owner returns the same name; another owner gets ExportLockError EBUSY.
   */
  lockForAttachment(volumeId: string, owner: string): string;
  /** Ends the attachment lock: connections through the secret name are stopped; the plain id opens again. */
  unlock(volumeId: string): void;
  /** Connections in transmission phase, per device id (for status and tests). */
  connectionCount(deviceId?: string): number;
  /**
   * Connections in transmission phase that read into one reused buffer (read-buffer-socket.ts), the fast
   * path; the rest read through a Buffer per socket read. For tests that the fast path still engages.
   */
  reusedReadBufferCount(): number;
  /** Stops listening, stops every connection (in-flight requests answered first) and removes the socket. */
  close(): Promise<void>;
}

/** Raised by startNbdServer for a configuration it refuses (plain NBD on a non-loopback address). */
export class NbdConfigError extends Error {
  override readonly name = 'NbdConfigError';
}

/** How a client authenticates over TLS: a PSK file and its identity, or a certificates directory. */
export type NbdClientTls =
  { readonly pskFile: string; readonly identity: string } | { readonly certificatesDir: string };

/**
 * The URI of an export: `nbd+unix:///NAME?socket=PATH`, `nbd://HOST:PORT/NAME`, or with `tls` (absolute
 * paths) `nbds://IDENTITY@HOST:PORT/NAME?tls-psk-file=FILE` or `nbds://HOST:PORT/NAME?tls-certificates=DIR`,
 * as libnbd reads them.
 */
export function nbdUri(exportName: string, endpoint: NbdEndpoint, tls?: NbdClientTls): string {
  const name = encodeURIComponent(exportName);
  if ('socketPath' in endpoint) {
    assert(endpoint.socketPath.startsWith('/'), 'nbdUri: socket path must be absolute');
    return `nbd+unix:///${name}?socket=${encodeURI(endpoint.socketPath)}`;
  }
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  if (tls === undefined) return `nbd://${host}:${endpoint.port}/${name}`;
  if ('certificatesDir' in tls) {
    assert(tls.certificatesDir.startsWith('/'), 'nbdUri: certificates dir must be absolute');
    return `nbds://${host}:${endpoint.port}/${name}?tls-certificates=${encodeURIComponent(tls.certificatesDir)}`;
  }
  assert(tls.pskFile.startsWith('/'), 'nbdUri: psk file must be absolute');
  const user = encodeURIComponent(tls.identity);
  return `nbds://${user}@${host}:${endpoint.port}/${name}?tls-psk-file=${encodeURIComponent(tls.pskFile)}`;
}
