// The console's routes on the API port: its static files at /console/, its two unauthenticated endpoints
// (the region, for the login form; the exchange of a one-time sign-in token), and the SigV4-authenticated
// extension API. api-server.ts hands every path `isConsolePath` accepts to `serveConsole`.
import type { Cloud } from '../../cloud/cloud.ts';
import { verifySigV4 } from '../auth/sigv4.ts';
import type { SignedRequest } from '../auth/sigv4.ts';
import { ApiError } from '../errors.ts';
import { decodePath } from '../request-target.ts';
import { securityHeaders, serveConsoleAsset } from './console-assets.ts';
import type { ConsoleResponse } from './console-assets.ts';
import type { ConsoleLogins } from './console-logins.ts';
import { extPrefix, extService, handleExt } from './ext-api.ts';

export type { ConsoleResponse } from './console-assets.ts';

/** What the daemon gives the API server to serve the console. */
export interface ConsoleSite {
  /** dist/console, or undefined when not built (then /console/ says how to build it). */
  readonly assetsDir: string | undefined;
  readonly logins: ConsoleLogins;
}

const configPath = '/_strata/console/config';
const loginPath = '/_strata/console/login';

/** True for the paths the console serves. */
export function isConsolePath(pathname: string): boolean {
  return pathname === '/console' || pathname.startsWith('/console/') || isConsoleApiPath(pathname);
}

/** True for the console's JSON endpoints, whose errors render as JSON (EBS style), not EC2 XML. */
export function isConsoleApiPath(pathname: string): boolean {
  return pathname === configPath || pathname === loginPath || pathname.startsWith(extPrefix);
}

function json(status: number, value: unknown): ConsoleResponse {
  return {
    status,
    headers: { ...securityHeaders, 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(value),
  };
}

/** Answers a console request; throws ApiError for the API server's error renderer. */
export async function serveConsole(
  site: ConsoleSite,
  cloud: Cloud,
  request: SignedRequest,
): Promise<ConsoleResponse> {
  const { path, method } = request;
  if (!isConsoleApiPath(path)) return serveConsoleAsset(site.assetsDir, method, path);
  if (path === configPath) return json(200, { region: cloud.regions.region });
  if (path === loginPath) return json(200, redeemLogin(site.logins, cloud, request));
  const caller = await verifySigV4(request, (id) => cloud.accounts.lookupKey(id), {
    services: [extService],
    region: cloud.regions.region,
  });
  const query = new URLSearchParams(request.query);
  return json(
    200,
    await handleExt({ cloud, caller, method, path: decodePath(path).slice(extPrefix.length), query }),
  );
}

function redeemLogin(logins: ConsoleLogins, cloud: Cloud, request: SignedRequest): unknown {
  if (request.method !== 'POST')
    throw new ApiError('InvalidParameterValue', { message: 'A sign-in token is redeemed with POST.' });
  let token: unknown;
  try {
    token = (JSON.parse(request.body.toString('utf8')) as { token?: unknown }).token;
  } catch {
    throw new ApiError('InvalidParameterValue', { message: 'The body must be JSON: {"token": "…"}.' });
  }
  const key = typeof token === 'string' ? logins.redeem(token) : undefined;
  if (key === undefined)
    throw new ApiError('AuthFailure', {
      reason: 'this sign-in link is unknown, expired or already used; run `strata console-url` for a new one',
    });
  return { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, region: cloud.regions.region };
}

/** The sign-in link for `token` on the daemon at `endpoint` (the token in the fragment: see console-logins.ts). */
export function consoleLoginUrl(endpoint: string, token: string): string {
  return `${endpoint}/console/#/login?token=${encodeURIComponent(token)}`;
}
