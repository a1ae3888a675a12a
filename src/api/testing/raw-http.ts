// Raw HTTP over node:net, for what no HTTP client will send: junk request lines, absolute and authority
// forms, bad percent-encoding, broken chunking, truncated bodies. Answers are split into responses by
// Content-Length (the API always sends it; Node's own parser errors close the connection instead).
//
// Usage:
//   const exchange = await rawHttp(port, 'GET // HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 5000 });
//   exchange.responses[0]?.status …
import net from 'node:net';

/** One parsed response. */
export interface RawHttpResponse {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
}

/** What came back on one connection. */
export interface RawHttpExchange {
  readonly responses: readonly RawHttpResponse[];
  /** Bytes after the last complete response (a partial one, or junk). */
  readonly trailing: Buffer;
  /** True when we gave up waiting and destroyed the socket. */
  readonly timedOut: boolean;
}

/** How to send. */
export interface RawHttpOptions {
  readonly timeoutMs: number;
  /** Write in pieces of at most this many bytes, yielding between them (default: one write). */
  readonly pieceBytes?: number;
  /** Half-close after writing (default true); false leaves the request open, as a stalled client. */
  readonly end?: boolean;
}

/** Sends `bytes` to 127.0.0.1:`port` and collects everything until the server closes or the timeout. */
export async function rawHttp(
  port: number,
  bytes: Buffer | string,
  options: RawHttpOptions,
): Promise<RawHttpExchange> {
  const data = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'latin1');
  const socket = net.connect({ host: '127.0.0.1', port });
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  socket.on('error', () => {}); // a reset is an answer too; what was read so far is judged
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    socket.destroy();
  }, options.timeoutMs);
  await new Promise<void>((resolve) => {
    socket.once('connect', resolve);
    socket.once('close', resolve);
  });
  const piece = options.pieceBytes ?? data.length;
  for (let at = 0; at < data.length && !socket.destroyed; at += piece) {
    socket.write(data.subarray(at, at + piece));
    if (piece < data.length) await new Promise((resolve) => setImmediate(resolve));
  }
  if (options.end !== false && !socket.destroyed) socket.end();
  await closed;
  clearTimeout(timer);
  return { ...splitResponses(Buffer.concat(received)), timedOut };
}

/** Splits a byte stream into complete responses and what is left over. */
export function splitResponses(stream: Buffer): Omit<RawHttpExchange, 'timedOut'> {
  const responses: RawHttpResponse[] = [];
  let rest = stream;
  for (;;) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd === -1) break;
    const lines = rest.subarray(0, headEnd).toString('latin1').split('\r\n');
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
    if (status === null) break;
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const length = Number(headers.get('content-length') ?? 0);
    const bodyStart = headEnd + 4;
    if (rest.length < bodyStart + length) break;
    responses.push({
      status: Number(status[1]),
      headers,
      body: rest.subarray(bodyStart, bodyStart + length),
    });
    rest = rest.subarray(bodyStart + length);
  }
  return { responses, trailing: rest };
}
