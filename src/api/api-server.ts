// The HTTP edge: one port for EC2 Query (XML) and EBS direct (REST/JSON), SigV4 on every request,
// bodies bounded while they stream in, errors rendered in one place (errors.ts).
//
// Usage (the daemon does this):
//   const server = await startApiServer({ cloud, logger, host: '127.0.0.1', port: 8773 });
//   server.url …; await server.close();   // stops accepting, finishes in-flight requests
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { assert } from '../base/assert.ts';
import { limits } from '../base/limits.ts';
import type { Logger } from '../base/log.ts';
import type { Cloud } from '../cloud/cloud.ts';
import { verifySigV4 } from './auth/sigv4.ts';
import { verifyEc2Signature } from './auth/ec2-signature.ts';
import { isConsoleApiPath, isConsolePath, serveConsole, type ConsoleSite } from './console/console-routes.ts';
import type { SignedRequest } from './auth/sigv4.ts';
import { isEbsPath, notImplementedEbs } from './ebs/ebs-router.ts';
import type { EbsHandler } from './ebs/ebs-router.ts';
import { handleEc2Query } from './ec2/ec2-query.ts';
import { QueryParams } from './ec2/query-params.ts';
import { answerClientError, endLingering } from './lingering-close.ts';
import { ApiError } from './errors.ts';
import { renderError, type ErrorProtocol } from './render-error.ts';
import { decodePath, parseRequestTarget } from './request-target.ts';
import type { RequestTarget } from './request-target.ts';
import { rejectXmlUnsafe } from './xml-unsafe-input.ts';

/** Where and what to serve. */
export interface ApiServerOptions {
  readonly cloud: Cloud;
  readonly logger: Logger;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** EBS direct handler; defaults to the not-implemented placeholder. */
  readonly ebs?: EbsHandler;
  /** The web console at /console/ and its extension API (api/console/); none when undefined. */
  readonly console?: ConsoleSite;
}

/** A listening API server. */
export interface ApiServer {
  /** `http://host:port`, with the real port. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, lets in-flight requests finish (up to limits.shutdownGraceSeconds), then resolves. */
  close(): Promise<void>;
}

/** Unauthenticated liveness probe, for scripts waiting on the daemon. */
export const healthPath = '/_strata/health';

/** Starts listening; resolves once the port is bound. */
export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  // requireHostHeader off: Node's own 400 for a request without Host went out before the body was read, and
  // was lost to a reset (found by the fuzzer); unsigned, such a request gets the API's own 4xx instead.
  const server = createServer({ requestTimeout: 5 * 60_000, requireHostHeader: false }, (req, res) => {
    onRequest(options, req, res);
  });
  const sockets = trackSockets(server);
  // CONNECT is no API request; without this, Node drops the connection unanswered.
  server.on('connect', (req: IncomingMessage, socket: Duplex) => refuseConnect(options, socket));
  // Node's own answer to a request its parser refuses is lost to a reset while the client still sends.
  server.on('clientError', answerClientError);
  // Node closes idle keep-alive sockets after 5 s; an SDK client sending on one just then gets ECONNRESET
  // (seen after 5 s of NBD work between API calls). Like AWS's 60 s front ends, keep them far longer.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return { url: `http://${host}:${port}`, port, close: () => closeServer(server, sockets) };
}

function refuseConnect(options: ApiServerOptions, socket: Duplex): void {
  const error = new ApiError('InvalidRequest', { message: 'CONNECT is not supported: this is no proxy.' });
  const rendered = renderError(error, 'ec2', randomUUID(), options.logger);
  const head = Object.entries({ ...rendered.headers, 'content-length': Buffer.byteLength(rendered.body) })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  endLingering(
    socket,
    `HTTP/1.1 ${rendered.status} Bad Request\r\n${head}connection: close\r\n\r\n${rendered.body}`,
  );
}

// Every accepted socket is tracked, not only those Node's HTTP layer still counts as its own: a socket handed
// over (CONNECT) or lingering after a refused request still holds server.close() until it closes.
function trackSockets(server: Server): Set<Duplex> {
  const sockets = new Set<Duplex>();
  server.on('connection', (socket: Duplex) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return sockets;
}

// Bounded: in-flight requests get limits.shutdownGraceSeconds to finish, then every socket is destroyed.
async function closeServer(server: Server, sockets: Set<Duplex>): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Keep-alive sockets turn idle as their in-flight request ends; close each as soon as it does.
  server.closeIdleConnections();
  const sweeper = setInterval(() => server.closeIdleConnections(), 50);
  const timer = setTimeout(() => {
    server.closeAllConnections();
    for (const socket of sockets) socket.destroy();
  }, limits.shutdownGraceSeconds * 1000);
  await closed;
  clearInterval(sweeper);
  clearTimeout(timer);
}

// Everything a request can throw is answered inside; the catch here is the last resort for a fault while
// answering (a broken socket), so no request can leave a rejection unhandled and stop the daemon.
function onRequest(options: ApiServerOptions, req: IncomingMessage, res: ServerResponse): void {
  handleRequest(options, req, res).catch((error: unknown) => {
    options.logger.error({ err: error, method: req.method }, 'fault while answering a request');
    res.destroy();
  });
}

async function handleRequest(
  options: ApiServerOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const requestId = randomUUID();
  const started = performance.now();
  const served = { protocol: 'ec2' as ErrorProtocol, path: '', status: 500, action: '' };
  try {
    const target = parseRequestTarget(req.url ?? '/');
    served.path = target.pathname;
    served.protocol = isEbsPath(target.pathname) || isConsoleApiPath(target.pathname) ? 'ebs' : 'ec2';
    // The body is read even for the health check: answering first and closing with the body unread makes
    // the kernel reset the connection, and the client loses the answer (found by the fuzzer).
    const body = await readBody(req, limits.requestBodyBytesMax);
    if (target.pathname === healthPath) {
      served.status = send(res, 200, { 'content-type': 'text/plain' }, 'ok\n');
      return;
    }
    const signed: SignedRequest = {
      method: req.method ?? 'GET',
      path: target.pathname,
      query: target.rawQuery,
      headers: req.headers,
      body,
    };
    if (options.console !== undefined && isConsolePath(target.pathname)) {
      const answer = await serveConsole(options.console, options.cloud, signed);
      served.status = send(res, answer.status, answer.headers, answer.body);
      return;
    }
    if (served.protocol === 'ebs') {
      served.status = await serveEbs(options, signed, target, requestId, res);
      return;
    }
    if (target.pathname !== '/') throw unknownPath(target.pathname);
    // Known before authentication, so failures (a bad signature too) are logged with their action.
    served.action = requestedAction(target.rawQuery, body);
    const caller = await verifyEc2Signature(signed, (id) => options.cloud.accounts.lookupKey(id), {
      services: ['ec2'],
      region: options.cloud.regions.region,
    });
    const params = ec2Params(req, target.rawQuery, body);
    const result = await handleEc2Query({
      requestId,
      caller,
      params,
      cloud: options.cloud,
      logger: options.logger,
    });
    served.action = result.action;
    const headers = { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': requestId };
    served.status = send(res, 200, headers, result.xml);
  } catch (error) {
    const rendered = renderError(error, served.protocol, requestId, options.logger);
    // A body refused before it was all read leaves the connection mid-request: it cannot serve another.
    const close = error instanceof ApiError && error.code === 'RequestEntityTooLarge' && !req.complete;
    if (!close) await drainBody(req);
    served.status = send(
      res,
      rendered.status,
      { ...rendered.headers, ...(close ? { connection: 'close' } : {}) },
      rendered.body,
    );
  } finally {
    const ms = Math.round(performance.now() - started);
    const { path, action, status } = served;
    options.logger.debug({ requestId, method: req.method, path, action, status, ms }, 'request');
  }
}

async function serveEbs(
  options: ApiServerOptions,
  signed: SignedRequest,
  target: RequestTarget,
  requestId: string,
  res: ServerResponse,
): Promise<number> {
  const caller = await verifySigV4(signed, (id) => options.cloud.accounts.lookupKey(id), {
    services: ['ebs'],
    region: options.cloud.regions.region,
  });
  const path = decodePath(target.pathname);
  const query = new URLSearchParams(target.rawQuery);
  rejectXmlUnsafe([['path', path], ...query], 'ebs');
  const handler = options.ebs ?? notImplementedEbs;
  const response = await handler({
    requestId,
    caller,
    method: signed.method,
    path,
    query,
    headers: signed.headers,
    body: signed.body,
    cloud: options.cloud,
    logger: options.logger,
  });
  return send(res, response.status, { 'x-amzn-requestid': requestId, ...response.headers }, response.body);
}

// Only `/` speaks EC2 Query; anything else (`/moto-api/reset`, a typo) is told so rather than asked to sign.
function unknownPath(pathname: string): ApiError {
  const shown = pathname.length > 100 ? `${pathname.slice(0, 100)}…` : pathname;
  return new ApiError('UnknownPath', { path: shown });
}

// The Action a request names (query first, then a form body), for the request log; '' when none.
function requestedAction(rawQuery: string, body: Buffer): string {
  const action =
    new URLSearchParams(rawQuery).get('Action') ?? new URLSearchParams(body.toString('latin1')).get('Action');
  return /^[A-Za-z0-9]{1,64}$/.test(action ?? '') ? (action as string) : '';
}

// GET carries parameters in the query; POST in a form body (plus any in the query). Presign fields are auth, not params.
function ec2Params(req: IncomingMessage, rawQuery: string, body: Buffer): QueryParams {
  const entries = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(rawQuery)) {
    if (!name.startsWith('X-Amz-')) entries.set(name, value);
  }
  const contentType = String(req.headers['content-type'] ?? '');
  if (body.length > 0) {
    if (!contentType.startsWith('application/x-www-form-urlencoded')) {
      throw new ApiError('InvalidParameterValue', {
        message: `EC2 Query bodies must be application/x-www-form-urlencoded: got ${contentType || 'no content-type'}`,
      });
    }
    for (const [name, value] of new URLSearchParams(body.toString('utf8'))) entries.set(name, value);
  }
  rejectXmlUnsafe(entries, 'ec2');
  return new QueryParams(entries);
}

/**
 * Bytes past the body limit still read (and dropped) before the 413 is sent. Answering while the client still
 * sends, then closing, makes the kernel reset the connection, and the client loses the answer (found by the
 * fuzzer); a body larger than this is refused at once instead, and closed.
 */
export const bodyDrainBytesMax = 8 * 1024 * 1024;

/** Reads a request body; one over `maxBytes` fails with RequestEntityTooLarge once read (or at once, if huge). */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  assert(maxBytes > 0, 'body limit must be positive');
  const tooLarge = (): ApiError => new ApiError('RequestEntityTooLarge', { limit: maxBytes });
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes + bodyDrainBytesMax) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
      else if (size > maxBytes + bodyDrainBytesMax) {
        req.off('data', onData);
        req.resume();
        reject(tooLarge());
      }
    };
    req.on('data', onData);
    req.once('end', () => (size <= maxBytes ? resolve(Buffer.concat(chunks, size)) : reject(tooLarge())));
    // The client hung up mid-body: its fault, not ours (the answer goes nowhere, but is logged as such).
    req.once('error', () =>
      reject(new ApiError('InvalidRequest', { message: 'The request body ended early.' })),
    );
  });
}

// An error found before the body was read (a target that is no path) is answered once the body is in, as
// the 413 is: answering first and then closing resets a client still sending, and it loses the answer.
function drainBody(req: IncomingMessage): Promise<void> {
  if (req.complete || req.readableEnded || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > bodyDrainBytesMax) resolve();
    });
    req.once('end', resolve);
    req.once('close', resolve);
    req.resume();
  });
}

function send(
  res: ServerResponse,
  status: number,
  headers: Readonly<Record<string, string>>,
  body: string | Buffer,
): number {
  if (res.headersSent) {
    res.end();
    return status;
  }
  // The parser refused the rest of this request and lingering-close.ts has answered and half-closed the
  // socket; writing after that would destroy it, and a reset could swallow the answer already sent.
  if (res.socket === null || res.socket.writableEnded) return status;
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
  return status;
}
