// The console's two ways to the daemon, both SigV4-signed with the session's keys: the EC2 API through the
// AWS SDK v3 browser client, and Strata's read-only extension API (/_strata/ext/, docs/api.md) through the
// SDK's own signer. The daemon is the page's origin, so there is no CORS and no other host.
import { EC2Client } from '@aws-sdk/client-ec2';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Session } from './session.ts';

/** The credential-scope service the extension API is signed for. */
export const extService = 'strata';

let cached: { session: Session; client: EC2Client } | undefined;

/** The EC2 client for `session` (one per session; no retries, so an error shows at once). */
export function ec2(session: Session): EC2Client {
  if (cached?.session !== session) {
    const client = new EC2Client({
      endpoint: location.origin,
      region: session.region,
      credentials: { accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey },
      maxAttempts: 1,
    });
    cached = { session, client };
  }
  return cached.client;
}

/** GETs `path` (under /_strata/ext/) signed for the extension API; resolves to its JSON, throws its error message. */
export async function extGet<T>(
  session: Session,
  path: string,
  query: Record<string, string> = {},
): Promise<T> {
  const signer = new SignatureV4({
    service: extService,
    region: session.region,
    credentials: { accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey },
    sha256: Sha256,
  });
  const request = new HttpRequest({
    method: 'GET',
    protocol: location.protocol,
    hostname: location.hostname,
    port: location.port === '' ? undefined : Number(location.port),
    path: `/_strata/ext/${path}`,
    query,
    headers: { host: location.host },
  });
  const signed = await signer.sign(request);
  const search = new URLSearchParams(query).toString();
  const headers = { ...signed.headers };
  delete headers.host; // the browser sets it, and refuses to be told
  const response = await fetch(`/_strata/ext/${path}${search === '' ? '' : `?${search}`}`, { headers });
  const body = (await response.json()) as T & { message?: string };
  if (!response.ok)
    throw new Error(`${response.headers.get('x-amzn-errortype') ?? response.status}: ${body.message ?? ''}`);
  return body;
}

/** The message an SDK or extension error shows: EC2's code and message, as the AWS CLI prints them. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { Code?: string }).Code ?? error.name;
    return code !== 'Error' && !error.message.startsWith(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
