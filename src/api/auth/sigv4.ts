// Verifies AWS Signature Version 4 on incoming requests: the Authorization header form and presigned
// query strings (X-Amz-Algorithm …). The expected signature is computed with @smithy/signature-v4 from the
// stored secret (the same code the AWS SDK signs with) and compared in constant time.
//
// Usage (api-server.ts does this for every request):
//   const caller = await verifySigV4(request, (id) => accounts.lookupKey(id), { services: ['ec2'], region });
//   caller.accountId …
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Hash, Hmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
import { limits } from '../../base/limits.ts';
import { ApiError } from '../errors.ts';

/** The parts of an HTTP request a signature covers, as received. */
export interface SignedRequest {
  readonly method: string;
  /** The path as sent (still percent-encoded), without the query. */
  readonly path: string;
  /** The raw query string, without `?`. */
  readonly query: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** Who signed a request, and for what. */
export interface Caller {
  readonly accessKeyId: string;
  readonly accountId: string;
  readonly region: string;
  readonly service: string;
}

/** Finds the secret of an access key; undefined when unknown or inactive. */
export type SecretLookup = (
  accessKeyId: string,
) => Promise<{ readonly secretAccessKey: string; readonly accountId: string } | undefined>;

/** What a request may be signed for. */
export interface VerifyOptions {
  /** Accepted credential-scope services for this route (`ec2`, `ebs`). */
  readonly services: readonly string[];
  /** The region this daemon serves; the credential scope must name it. */
  readonly region: string;
  /** The current time (tests move it). */
  readonly now?: Date;
}

const algorithm = 'AWS4-HMAC-SHA256';
const unsignedPayload = 'UNSIGNED-PAYLOAD';

/** Parsed signature material, from the header or the query. */
interface Signature {
  readonly presigned: boolean;
  readonly accessKeyId: string;
  readonly scopeDate: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
  readonly amzDate: string;
  readonly expiresSeconds: number;
}

/** Checks the request's SigV4 signature; throws the EC2 auth error that fits, else returns the caller. */
export async function verifySigV4(
  request: SignedRequest,
  lookup: SecretLookup,
  options: VerifyOptions,
): Promise<Caller> {
  const query = new URLSearchParams(request.query);
  const signature = query.has('X-Amz-Algorithm')
    ? parseQuerySignature(query)
    : parseHeaderSignature(request.headers);
  const signingDate = checkTime(signature, options.now ?? new Date());
  if (!options.services.includes(signature.service)) {
    throw new ApiError('AuthFailure', {
      reason: `credential scope service ${signature.service} is not ${options.services.join(' or ')}`,
    });
  }
  if (signature.region !== options.region) {
    throw new ApiError('AuthFailure', {
      reason: `credential scope region ${signature.region} is not this endpoint's region ${options.region}`,
    });
  }
  checkPayloadHash(request, signature);
  const key = await lookup(signature.accessKeyId);
  if (key === undefined)
    throw new ApiError('AuthFailure', { reason: `unknown access key ${signature.accessKeyId}` });
  const expected = await expectedSignature(
    request,
    query,
    signature,
    key.secretAccessKey,
    signingDate,
    false,
  );
  if (sameHex(expected, signature.signature)) return caller(signature, key.accountId);
  // Some signers (botocore) presign with UNSIGNED-PAYLOAD; accept that only when there is no body to cover.
  if (signature.presigned && request.body.length === 0) {
    const unsigned = await expectedSignature(
      request,
      query,
      signature,
      key.secretAccessKey,
      signingDate,
      true,
    );
    if (sameHex(unsigned, signature.signature)) return caller(signature, key.accountId);
  }
  throw new ApiError('SignatureDoesNotMatch');
}

function caller(signature: Signature, accountId: string): Caller {
  return {
    accessKeyId: signature.accessKeyId,
    accountId,
    region: signature.region,
    service: signature.service,
  };
}

function parseHeaderSignature(headers: IncomingHttpHeaders): Signature {
  const authorization = headers.authorization;
  if (authorization === undefined || authorization === '') throw new ApiError('MissingAuthenticationToken');
  if (!authorization.startsWith(`${algorithm} `)) {
    throw new ApiError('IncompleteSignature', {
      message: `Only ${algorithm} (Signature Version 4) is supported`,
    });
  }
  const fields = new Map<string, string>();
  for (const part of authorization.slice(algorithm.length).split(',')) {
    const at = part.indexOf('=');
    if (at > 0) fields.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  const amzDate = headerValue(headers, 'x-amz-date');
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (
    credential === undefined ||
    signedHeaders === undefined ||
    signature === undefined ||
    amzDate === undefined
  ) {
    throw new ApiError('IncompleteSignature', {
      message:
        'Authorization header requires Credential, SignedHeaders and Signature, and X-Amz-Date must be set',
    });
  }
  return {
    presigned: false,
    ...parseCredential(credential),
    signedHeaders: signedHeaders.split(';'),
    signature,
    amzDate,
    expiresSeconds: 0,
  };
}

function parseQuerySignature(query: URLSearchParams): Signature {
  const get = (name: string): string => {
    const value = query.get(name);
    if (value === null || value === '')
      throw new ApiError('IncompleteSignature', { message: `Presigned request is missing ${name}` });
    return value;
  };
  if (get('X-Amz-Algorithm') !== algorithm) {
    throw new ApiError('IncompleteSignature', { message: `X-Amz-Algorithm must be ${algorithm}` });
  }
  const expires = Number(get('X-Amz-Expires'));
  if (!Number.isSafeInteger(expires) || expires < 1 || expires > limits.presignedUrlExpiresSecondsMax) {
    throw new ApiError('AuthFailure', {
      reason: `X-Amz-Expires must be 1..${limits.presignedUrlExpiresSecondsMax} seconds`,
    });
  }
  return {
    presigned: true,
    ...parseCredential(get('X-Amz-Credential')),
    signedHeaders: get('X-Amz-SignedHeaders').split(';'),
    signature: get('X-Amz-Signature'),
    amzDate: get('X-Amz-Date'),
    expiresSeconds: expires,
  };
}

function parseCredential(
  credential: string,
): Pick<Signature, 'accessKeyId' | 'scopeDate' | 'region' | 'service'> {
  const parts = credential.split('/');
  const [accessKeyId, scopeDate, region, service, terminator] = parts;
  if (
    parts.length !== 5 ||
    terminator !== 'aws4_request' ||
    !accessKeyId ||
    !scopeDate ||
    !region ||
    !service
  ) {
    throw new ApiError('IncompleteSignature', {
      message: `Credential must be ACCESS_KEY/YYYYMMDD/region/service/aws4_request: got ${credential}`,
    });
  }
  return { accessKeyId, scopeDate, region, service };
}

// Returns the signing date; rejects stale, future and malformed timestamps.
function checkTime(signature: Signature, now: Date): Date {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(signature.amzDate);
  if (match === null)
    throw new ApiError('IncompleteSignature', {
      message: `X-Amz-Date must be YYYYMMDDTHHMMSSZ: got ${signature.amzDate}`,
    });
  const [, year, month, day, hour, minute, second] = match.map(Number) as number[];
  const date = new Date(Date.UTC(year!, month! - 1, day!, hour, minute, second));
  if (signature.amzDate.slice(0, 8) !== signature.scopeDate) {
    throw new ApiError('SignatureDoesNotMatch', {
      message: `Credential scope date ${signature.scopeDate} does not match X-Amz-Date ${signature.amzDate}`,
    });
  }
  const skewMs = now.getTime() - date.getTime();
  const skewMax = limits.signatureClockSkewMsMax;
  if (skewMs < -skewMax)
    throw new ApiError('RequestExpired', { reason: `X-Amz-Date ${signature.amzDate} is in the future` });
  const lifetimeMs = signature.presigned ? signature.expiresSeconds * 1000 : skewMax;
  if (skewMs > lifetimeMs)
    throw new ApiError('RequestExpired', { reason: `X-Amz-Date ${signature.amzDate} is too old` });
  return date;
}

// The signer trusts X-Amz-Content-Sha256 when present, so check it against the body we really got.
function checkPayloadHash(request: SignedRequest, signature: Signature): void {
  const claimed = headerValue(request.headers, 'x-amz-content-sha256');
  if (claimed === undefined) return;
  if (claimed === unsignedPayload) {
    if (signature.service === 'ebs') return;
    throw new ApiError('SignatureDoesNotMatch', {
      message: `${unsignedPayload} is only accepted for the EBS direct API`,
    });
  }
  if (claimed !== createHash('sha256').update(request.body).digest('hex')) {
    throw new ApiError('SignatureDoesNotMatch', {
      message: 'X-Amz-Content-Sha256 does not match the request body',
    });
  }
}

async function expectedSignature(
  request: SignedRequest,
  query: URLSearchParams,
  signature: Signature,
  secretAccessKey: string,
  signingDate: Date,
  unsignedPresign: boolean,
): Promise<string> {
  const signer = new SignatureV4({
    credentials: { accessKeyId: signature.accessKeyId, secretAccessKey },
    region: signature.region,
    service: signature.service,
    sha256: NodeSha256,
    applyChecksum: false,
  });
  const signable = new Set(signature.signedHeaders);
  const headers: Record<string, string> = {};
  for (const name of signature.signedHeaders) {
    const value = headerValue(request.headers, name);
    if (value !== undefined) headers[name] = value;
  }
  const queryRecord = toQueryRecord(query, signature.presigned);
  const httpRequest = new HttpRequest({
    method: request.method,
    protocol: 'http:',
    hostname: headers.host ?? 'localhost',
    path: request.path,
    query: queryRecord,
    headers,
    body: request.body.length > 0 ? request.body : undefined,
  });
  const base = {
    signingDate,
    signingRegion: signature.region,
    signingService: signature.service,
    signableHeaders: signable,
  };
  if (!signature.presigned) {
    const signed = await signer.sign(httpRequest, base);
    return /Signature=([0-9a-f]+)/.exec(String(signed.headers.authorization))?.[1] ?? '';
  }
  const sha = 'x-amz-content-sha256';
  if (unsignedPresign) httpRequest.headers[sha] = unsignedPayload;
  const only = new Set([sha]);
  const presigned = await signer.presign(httpRequest, {
    ...base,
    expiresIn: signature.expiresSeconds,
    ...(unsignedPresign ? { unhoistableHeaders: only, unsignableHeaders: only } : {}),
  });
  return String(presigned.query?.['X-Amz-Signature'] ?? '');
}

function toQueryRecord(query: URLSearchParams, presigned: boolean): Record<string, string | string[]> {
  const record: Record<string, string | string[]> = {};
  for (const [name, value] of query) {
    if (presigned && name === 'X-Amz-Signature') continue;
    const previous = record[name];
    record[name] =
      previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  return record;
}

// The signer's hash interface over node's native crypto (the pure-JS @aws-crypto/sha256-js is ~10x slower).
class NodeSha256 {
  readonly #hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toKey(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    if (typeof data === 'string') this.#hash.update(data, 'utf8');
    else if (ArrayBuffer.isView(data))
      this.#hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    else this.#hash.update(new Uint8Array(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()));
  }
}

function toKey(secret: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof secret === 'string') return secret;
  return ArrayBuffer.isView(secret)
    ? new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength)
    : new Uint8Array(secret);
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function sameHex(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && a.length > 0 && timingSafeEqual(a, b);
}
