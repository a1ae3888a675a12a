// Connections answered outside Node's request handling: requests its HTTP parser refuses before any handler
// sees them (a head past 16 KiB: 431; bad syntax: 400; a head that never completes: 408), and CONNECT.
// Node's own answer to a refused request is written and the socket destroyed at once; the bytes the client is
// still sending (the rest of a 200 KB URL) then reach a closed socket, the kernel resets the connection, and
// the client reads ECONNRESET instead of the answer (found by the fuzzer: signed EBS direct requests with long
// queries). Here an answer is followed by a lingering close, as Apache and nginx do: the socket is
// half-closed and read to the client's end, or destroyed after lingerMs. Reading matters for CONNECT too: a
// socket Node handed over with unread bytes never sees the client's end, so it stayed open for ever and held
// the server's close (a daemon that did not stop on SIGTERM after fuzzing).
//
// Usage (api-server.ts): server.on('clientError', answerClientError); endLingering(socket, response);
import type { Duplex } from 'node:stream';

/** How long a refused connection is drained, at most, before it is destroyed. */
export const lingerMs = 5000;

const statusLines: Readonly<Record<string, string>> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: '413 Payload Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

// The parser reports the same error again for every later chunk; only the first one is answered.
const answered = new WeakSet<Duplex>();

/** Answers a request the parser refused with a bodiless 4xx, then drains the socket until the client hangs up. */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (answered.has(socket)) return;
  answered.add(socket);
  // An answer already under way on this socket (a timeout mid-response) cannot be followed by another.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent === true) {
    socket.destroy();
    return;
  }
  const status = statusLines[error.code ?? ''] ?? '400 Bad Request';
  endLingering(socket, `HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}

/** Writes `response` and half-closes, then reads and drops what comes until the client ends, at most lingerMs. */
export function endLingering(socket: Duplex, response: string): void {
  socket.on('error', () => {}); // a client gone before the answer is no fault
  socket.end(response);
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  // Read and drop what still comes; the client's end then closes the socket (both halves are done).
  socket.on('data', () => {});
  socket.resume();
}
