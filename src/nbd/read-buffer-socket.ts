// Transmission-phase reads into one reused buffer instead of a fresh Buffer per socket read.
//
// A socket's 'data' events allocate a new 64 KiB Buffer for every read. At NBD write rates that is a GiB of
// short-lived external memory per GiB written, and V8 answers external-memory pressure with a mark-compact
// every few MiB: measured as about 400 ms of CPU per GiB, which kept sequential writes behind qemu-nbd.
// Node's `onread` option (documented on net.Socket) reads into a caller's buffer instead, but net.Server
// offers no way to set it on accepted sockets. So after the handshake the accepted socket's libuv handle is
// moved into a new net.Socket built with `onread`, the way net.Server itself wraps accepted handles.
//
// This touches two undocumented fields (`_handle` and its `reading` flag), so it checks what it relies on
// and returns null when anything looks different; the caller then keeps reading through 'data' events.
// nbd-server.test.ts asserts the fast path engages on the Node version `engines` names.
import net from 'node:net';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

/** Called with each read; `chunk` is valid only until it returns (the buffer is refilled by the next read). */
export type BorrowedChunkSink = (chunk: Buffer) => void;

interface StreamHandle {
  reading?: boolean;
  readStop(): number;
  readStart(): number;
}

/**
 * Moves `socket`'s handle into a new socket that reads into `buffer` and hands each read to `sink`. `socket`
 * is left without a handle; destroying it later only releases its place in its server's connection count.
 * Returns null (nothing changed) if the socket has buffered input or output, or its internals are unexpected.
 */
export function adoptWithReadBuffer(socket: Socket, buffer: Buffer, sink: BorrowedChunkSink): Socket | null {
  const internals = socket as unknown as { _handle?: StreamHandle | null };
  const handle = internals._handle;
  // A TLS socket's handle yields ciphertext: reading it directly would skip decryption.
  if (
    socket instanceof TLSSocket ||
    handle === undefined ||
    handle === null ||
    typeof handle.readStop !== 'function' ||
    typeof handle.readStart !== 'function' ||
    socket.destroyed ||
    socket.readableLength > 0 ||
    socket.writableLength > 0
  ) {
    return null;
  }
  // Stop the old reader; the new socket starts reading when it is resumed.
  if (handle.reading === true) handle.readStop();
  handle.reading = false;
  internals._handle = null;
  const adopted = new net.Socket({
    // A libuv stream handle: what net.Server passes here too, though the typings name only BoundSocket.
    handle: handle as unknown as net.BoundSocket,
    allowHalfOpen: true,
    readable: true,
    writable: true,
    manualStart: true,
    onread: {
      buffer,
      // Returning false would pause the socket; the sink takes every read, so always go on.
      callback: (bytes: number, into: Uint8Array): boolean => {
        sink((into as Buffer).subarray(0, bytes));
        return true;
      },
    },
  } as net.SocketConstructorOpts);
  // The old socket holds its server's connection count; release it when the new one closes.
  adopted.once('close', () => socket.destroy());
  return adopted;
}
