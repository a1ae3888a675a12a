// Which signature an EC2 Query request carries: Signature Version 4 (every current SDK and the AWS CLI), or
// Signature Version 2 in the parameters (libcloud and older tools). Both are verified with the same checks.
//
// Usage (api-server.ts): const caller = await verifyEc2Signature(signed, lookup, { services: ['ec2'], region });
import type { Caller, SecretLookup, SignedRequest, VerifyOptions } from './sigv4.ts';
import { verifySigV4 } from './sigv4.ts';
import { isSigV2, verifySigV2 } from './sigv2.ts';

/** Verifies the request's SigV4 or SigV2 signature; throws the EC2 auth error that fits. */
export function verifyEc2Signature(
  request: SignedRequest,
  lookup: SecretLookup,
  options: VerifyOptions,
): Promise<Caller> {
  const params = signedParams(request);
  if (request.headers.authorization === undefined && isSigV2(params))
    return verifySigV2(request, params, lookup, options);
  return verifySigV4(request, lookup, options);
}

// SigV2 signs the query of a GET and the form body of a POST (never both).
function signedParams(request: SignedRequest): URLSearchParams {
  const type = String(request.headers['content-type'] ?? '');
  if (request.method === 'POST' && type.startsWith('application/x-www-form-urlencoded'))
    return new URLSearchParams(request.body.toString('utf8'));
  return new URLSearchParams(request.query);
}
