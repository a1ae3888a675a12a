// Verifies AWS Signature Version 2 on EC2 Query requests, which libcloud's EC2 driver (and other older
// clients) still send by default. The same checks as SigV4: a known, active access key, a fresh timestamp
// (or an unexpired Expires), and an HMAC compared in constant time. A SigV2 request carries no region, so
// it is served by this endpoint's region. The EBS direct API never takes SigV2, as in AWS.
//
// Usage (auth/ec2-signature.ts picks this when the parameters carry SignatureVersion=2):
//   const caller = await verifySigV2(request, params, lookup, { services: ['ec2'], region });
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Query-Requests.html (Signature Version 2)
import { createHmac, timingSafeEqual } from 'node:crypto';
import { assert } from '../../base/assert.ts';
import { limits } from '../../base/limits.ts';
import { ApiError } from '../errors.ts';
import type { Caller, SecretLookup, SignedRequest, VerifyOptions } from './sigv4.ts';

const methods = { HmacSHA256: 'sha256', HmacSHA1: 'sha1' } as const;

/** Whether the request's parameters ask for Signature Version 2. */
export function isSigV2(params: URLSearchParams): boolean {
  return params.get('SignatureVersion') === '2' || (params.has('AWSAccessKeyId') && params.has('Signature'));
}

/** Checks the SigV2 signature over `params` (the query for GET, the form body for POST); returns the caller. */
export async function verifySigV2(
  request: SignedRequest,
  params: URLSearchParams,
  lookup: SecretLookup,
  options: VerifyOptions,
): Promise<Caller> {
  assert(options.services.includes('ec2'), 'SigV2 is for the EC2 Query API only');
  const get = (name: string): string => {
    const value = params.get(name);
    if (value === null || value === '')
      throw new ApiError('IncompleteSignature', { message: `A Signature Version 2 request needs ${name}` });
    return value;
  };
  if (get('SignatureVersion') !== '2')
    throw new ApiError('IncompleteSignature', { message: 'SignatureVersion must be 2 (or sign with SigV4)' });
  const method = get('SignatureMethod');
  if (method !== 'HmacSHA256' && method !== 'HmacSHA1')
    throw new ApiError('IncompleteSignature', {
      message: `SignatureMethod must be HmacSHA256 or HmacSHA1: got ${method}`,
    });
  checkTime(params, options.now ?? new Date());
  const accessKeyId = get('AWSAccessKeyId');
  const signature = get('Signature');
  const key = await lookup(accessKeyId);
  if (key === undefined) throw new ApiError('AuthFailure', { reason: `unknown access key ${accessKeyId}` });
  const expected = createHmac(methods[method], key.secretAccessKey)
    .update(stringToSign(request, params))
    .digest();
  const given = Buffer.from(signature, 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    throw new ApiError('SignatureDoesNotMatch');
  return { accessKeyId, accountId: key.accountId, region: options.region, service: 'ec2' };
}

// Timestamp must be within the clock skew SigV4 allows; Expires must lie ahead, and not too far.
function checkTime(params: URLSearchParams, now: Date): void {
  const timestamp = params.get('Timestamp');
  const expires = params.get('Expires');
  if ((timestamp === null) === (expires === null))
    throw new ApiError('IncompleteSignature', {
      message: 'A Signature Version 2 request needs exactly one of Timestamp and Expires',
    });
  const raw = (timestamp ?? expires) as string;
  const at = Date.parse(raw);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(raw) || Number.isNaN(at))
    throw new ApiError('IncompleteSignature', { message: `Timestamp/Expires must be ISO 8601: got ${raw}` });
  const skewMs = now.getTime() - at;
  const skewMax = limits.signatureClockSkewMsMax;
  if (timestamp !== null && Math.abs(skewMs) > skewMax)
    throw new ApiError('RequestExpired', { reason: `Timestamp ${raw} is more than 5 minutes off` });
  if (expires !== null && (skewMs > 0 || -skewMs > limits.presignedUrlExpiresSecondsMax * 1000))
    throw new ApiError('RequestExpired', { reason: `Expires ${raw} is past or too far ahead` });
}

// VERB \n host (lowercase) \n path \n the parameters but Signature, sorted by name, RFC 3986-encoded.
function stringToSign(request: SignedRequest, params: URLSearchParams): string {
  const host = String(request.headers.host ?? '').toLowerCase();
  const pairs = [...params]
    .filter(([name]) => name !== 'Signature')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${rfc3986(name)}=${rfc3986(value)}`);
  const path = request.path === '' ? '/' : request.path;
  return [request.method.toUpperCase(), host, path, pairs.join('&')].join('\n');
}

function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
