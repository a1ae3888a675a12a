// Raw, hand-signed HTTP requests for protocol tests: what the SDK cannot send (unknown actions, bad
// versions, tampered bodies, skewed clocks, presigned URLs). Signed with @smithy/signature-v4 like the SDK.
//
// Usage:
//   const res = await signedRequest(strata.endpoint, strata.admin, { params: { Action: 'Foo', Version: '2016-11-15' } });
//   res.status, res.body (text), res.headers
import { request as httpRequest } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
import { Sha256 } from '@aws-crypto/sha256-js';
import type { KeyPair } from '../../cloud/common/accounts.ts';

/**
 * Most query parameters signedRequest signs. @smithy/signature-v4 clones the request once per signature, and
 * its query clone copies the whole query once per parameter: quadratic, 1000 parameters take ~2 s and 21 169
 * (a fuzzed GET) spun for many minutes in code no timer interrupts. Past 16 KiB of URL Node refuses the
 * request anyway, long before this many.
 */
export const signedQueryParamsMax = 1000;

/** What to send and how to sign it. */
export interface SignedRequestOptions {
  readonly method?: 'GET' | 'POST' | 'PUT';
  /** EC2 Query parameters: in the form body for POST, in the query for GET and PUT. */
  readonly params?: Readonly<Record<string, string>>;
  readonly path?: string;
  /** A raw body instead of the form (overrides params for POST). */
  readonly body?: Buffer | string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly region?: string;
  readonly service?: string;
  readonly signingDate?: Date;
  /** Presign (signature in the query) instead of an Authorization header. */
  readonly presignExpiresSeconds?: number;
  /** Changes the body after signing (tamper tests). */
  readonly tamper?: (body: string) => string;
  /** Send without any signature. */
  readonly unsigned?: boolean;
  /** Give up (reject) when no complete answer came within this many milliseconds. */
  readonly timeoutMs?: number;
  /** Open a new connection instead of reusing a kept-alive one (no race with a server-side close). */
  readonly freshConnection?: boolean;
}

/** A response, fully read. */
export interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

/** Signs and sends one request to `endpoint` with `key`. */
export async function signedRequest(
  endpoint: string,
  key: KeyPair,
  options: SignedRequestOptions = {},
): Promise<RawResponse> {
  const url = new URL(endpoint);
  const method = options.method ?? 'POST';
  const form = new URLSearchParams(options.params ?? {}).toString().replace(/\+/g, '%20');
  const body =
    options.body !== undefined
      ? Buffer.from(options.body)
      : method === 'POST'
        ? Buffer.from(form)
        : undefined;
  const query: Record<string, string> = method !== 'POST' ? { ...(options.params ?? {}) } : {};
  const queryCount = Object.keys(query).length;
  if (queryCount > signedQueryParamsMax)
    throw new Error(
      `${queryCount} query parameters: signing more than ${signedQueryParamsMax} takes minutes`,
    );
  const request = new HttpRequest({
    method,
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: options.path ?? '/',
    query,
    headers: {
      host: url.host,
      ...(method === 'POST' && options.body === undefined
        ? { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }
        : {}),
      ...(options.headers ?? {}),
    },
    ...(body !== undefined ? { body } : {}),
  });
  const signer = new SignatureV4({
    credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
    region: options.region ?? 'us-east-1',
    service: options.service ?? 'ec2',
    sha256: Sha256,
  });
  const signingDate = options.signingDate ?? new Date();
  const signed = options.unsigned
    ? request
    : options.presignExpiresSeconds !== undefined
      ? await signer.presign(request, { signingDate, expiresIn: options.presignExpiresSeconds })
      : await signer.sign(request, { signingDate });
  const sentBody = body !== undefined && options.tamper ? Buffer.from(options.tamper(body.toString())) : body;
  return send(url, signed as HttpRequest, sentBody, options);
}

function send(
  url: URL,
  signed: HttpRequest,
  body: Buffer | undefined,
  { timeoutMs, freshConnection }: SignedRequestOptions,
): Promise<RawResponse> {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(signed.query ?? {})) {
    for (const one of Array.isArray(value) ? value : [value]) if (one !== null) search.append(name, one);
  }
  const queryString = search.toString().replace(/\+/g, '%20');
  const headers: Record<string, string> = { ...signed.headers };
  if (body !== undefined) headers['content-length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: signed.method,
        path: `${signed.path}${queryString ? `?${queryString}` : ''}`,
        headers,
        ...(freshConnection === true ? { agent: false } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (timeoutMs !== undefined) {
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    }
    req.end(body);
  });
}
