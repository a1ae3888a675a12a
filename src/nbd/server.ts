// The listeners and the set of live connections; each socket goes handshake -> transmission.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import type { Server, Socket } from 'node:net';
import { assert } from '../base/assert.ts';
import { limits } from '../base/limits.ts';
import { listenOn, listenPrivateSocket } from '../base/private-socket.ts';
import { silentLogger } from '../base/log.ts';
import type { Logger } from '../base/log.ts';
import type { BlockStore } from '../storage/block-store.ts';
import { PayloadBuffers } from './payload-buffers.ts';
import { ByteReader, PeerGoneError } from './byte-reader.ts';
import { NbdConnection } from './connection.ts';
import { ExportRegistry } from './exports.ts';
import { HandshakeError, negotiate } from './handshake.ts';
import type { HandshakeChannel, ListenerAccess } from './handshake.ts';
import { isLoopbackHost, NbdTls } from './nbd-tls.ts';
import type { NbdServer, NbdServerOptions } from './nbd-server.ts';
import { NbdConfigError, nbdUri } from './nbd-server.ts';

// A graceful stop waits this long for in-flight requests before the socket is destroyed.
const STOP_GRACE_MS = 5_000;

/** The NbdServer implementation; construct through startNbdServer. */
export class StrataNbdServer implements NbdServer {
  readonly socketPath: string;
  tcpAddress: { host: string; port: number } | null = null;
  readonly #options: NbdServerOptions;
  readonly #store: BlockStore;
  readonly #logger: Logger;
  readonly #registry: ExportRegistry;
  readonly #payloads = new PayloadBuffers(limits.nbdPayloadPoolBytes);
  readonly #servers: Server[] = [];
  readonly #handshaking = new Set<Socket>();
  readonly #connections = new Set<NbdConnection>();
  #unsubscribe: (() => void) | null = null;
  #closing = false;

  constructor(options: NbdServerOptions) {
    this.#options = options;
    this.socketPath = options.socketPath;
    this.#store = options.store;
    this.#logger = options.logger ?? silentLogger;
    this.#registry = new ExportRegistry(options.store, options.attachmentKey ?? randomBytes(32));
  }

  /**
   * Binds the unix socket (0600 from the first moment) and the optional TCP port; throws NbdConfigError,
   * binding nothing, for plain TCP on a non-loopback address.
   */
  async listen(): Promise<void> {
    const plain = this.#options.tcp;
    if (plain !== undefined && plain.tls === undefined && !isLoopbackHost(plain.host)) {
      throw new NbdConfigError(
        `NBD on ${plain.host} would let anyone who can connect read and write every volume: ` +
          'TCP without TLS is only allowed on a loopback address (127.0.0.1, ::1)',
      );
    }
    const unix = this.#createServer({ kind: 'trusted' });
    await listenPrivateSocket(unix, this.socketPath);
    this.#servers.push(unix);
    if (this.#options.tcp) {
      const tls = this.#options.tcp.tls;
      const tcp = this.#createServer(
        tls === undefined
          ? { kind: 'trusted' }
          : { kind: 'tls', tls: new NbdTls(tls), authorize: tls.authorize },
      );
      await listenOn(tcp, { host: this.#options.tcp.host, port: this.#options.tcp.port });
      const address = tcp.address();
      assert(address !== null && typeof address === 'object', 'tcp listener has no address');
      this.tcpAddress = { host: this.#options.tcp.host, port: address.port };
      this.#servers.push(tcp);
    }
    this.#unsubscribe = this.#store.onDeviceRemoved((id) => this.#onDeviceRemoved(id));
    const tcpTls = this.#options.tcp === undefined ? null : this.#options.tcp.tls !== undefined;
    this.#logger.info({ socket: this.socketPath, tcp: this.tcpAddress, tcpTls }, 'nbd: listening');
  }

  uri(exportName: string): string {
    return nbdUri(exportName, { socketPath: this.socketPath });
  }

  lockForAttachment(volumeId: string, owner: string): string {
    const lock = this.#registry.lock(volumeId, owner);
    for (const connection of this.#connections) {
      if (connection.deviceId === volumeId && connection.exportName !== lock.secretExportName) {
        void this.#stop(connection);
      }
    }
    return lock.secretExportName;
  }

  unlock(volumeId: string): void {
    const held = this.#registry.unlock(volumeId);
    if (!held) return;
    for (const connection of this.#connections) {
      if (connection.exportName === held.secretExportName) void this.#stop(connection);
    }
  }

  reusedReadBufferCount(): number {
    let count = 0;
    for (const connection of this.#connections) if (connection.readsIntoReusedBuffer) count++;
    return count;
  }

  connectionCount(deviceId?: string): number {
    let count = 0;
    for (const connection of this.#connections)
      if (deviceId === undefined || connection.deviceId === deviceId) count++;
    return count;
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#unsubscribe?.();
    const closed = this.#servers.map(
      (server) => new Promise<void>((resolve) => server.close(() => resolve())),
    );
    for (const socket of this.#handshaking) socket.destroy();
    await Promise.all([...this.#connections].map((connection) => this.#stop(connection)));
    await Promise.all(closed);
    await rm(this.socketPath, { force: true });
    this.#logger.info({ socket: this.socketPath }, 'nbd: closed');
  }

  #createServer(access: ListenerAccess): Server {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket) => {
      void this.#accept(socket, access);
    });
    server.on('error', (error) => this.#logger.error({ err: error }, 'nbd: listener error'));
    return server;
  }

  async #accept(socket: Socket, access: ListenerAccess): Promise<void> {
    if (this.#closing) return void socket.destroy();
    socket.setNoDelay(true);
    // Peers vanish mid-write (EPIPE, ECONNRESET); that ends the socket and is never a server error.
    socket.on('error', (error) => this.#logger.debug({ err: error }, 'nbd: socket error'));
    this.#handshaking.add(socket);
    const channel: HandshakeChannel = { socket, reader: new ByteReader(socket) };
    const timer = setTimeout(() => {
      channel.socket.destroy(); // the TLS socket, once STARTTLS replaced the raw one
      socket.destroy();
    }, limits.nbdHandshakeTimeoutMs);
    try {
      const negotiated = await negotiate(channel, this.#registry, access);
      const leftover = channel.reader.detach();
      if (this.#closing || channel.socket.destroyed) return void channel.socket.destroy();
      const connection = new NbdConnection({
        socket: channel.socket,
        store: this.#store,
        negotiated,
        logger: this.#logger,
        leftover,
        payloads: this.#payloads,
      });
      this.#connections.add(connection);
      void connection.closed.then(() => this.#connections.delete(connection));
      this.#logger.debug({ export: negotiated.export.device.id }, 'nbd: client connected');
    } catch (error) {
      channel.reader.detach();
      if (error instanceof HandshakeError || error instanceof PeerGoneError) {
        this.#logger.debug({ reason: error.message }, 'nbd: handshake ended');
        const ending = channel.socket;
        ending.end();
        setTimeout(() => ending.destroy(), STOP_GRACE_MS).unref();
      } else {
        throw error;
      }
    } finally {
      clearTimeout(timer);
      this.#handshaking.delete(socket);
    }
  }

  #onDeviceRemoved(id: string): void {
    this.#registry.unlock(id);
    for (const connection of this.#connections) if (connection.deviceId === id) void this.#stop(connection);
  }

  async #stop(connection: NbdConnection): Promise<void> {
    const timer = setTimeout(() => connection.destroy(), STOP_GRACE_MS);
    await connection.stop();
    clearTimeout(timer);
  }
}
