// The instance metadata service's HTTP semantics, IMDSv1 and v2, as EC2 answers them. The instance is
// given by the channel the request came on (imds-sockets.ts), never by anything in the request.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InstanceMetadata, MetadataSource } from './metadata.ts';
import { metadataTree, resolvePath } from './metadata-tree.ts';
import { TOKEN_TTL_SECONDS_MAX, TOKEN_TTL_SECONDS_MIN, type SessionTokens } from './session-tokens.ts';

/** API versions EC2's IMDS lists at `/`; any of them (and `latest`) serves the same tree. */
export const METADATA_VERSIONS = [
  '1.0',
  '2007-01-19',
  '2007-03-01',
  '2007-08-29',
  '2007-10-10',
  '2007-12-15',
  '2008-02-01',
  '2008-09-01',
  '2009-04-04',
  '2011-01-01',
  '2011-05-01',
  '2012-01-12',
  '2014-02-25',
  '2014-11-05',
  '2015-10-20',
  '2016-04-19',
  '2016-06-30',
  '2016-09-02',
  '2018-03-28',
  '2018-08-17',
  '2018-09-24',
  '2019-10-01',
  '2020-10-27',
  '2021-01-03',
  '2021-03-23',
  '2021-07-15',
  '2022-09-24',
  '2023-09-01',
  'latest',
] as const;

const TOKEN_PATH = '/latest/api/token';
const TOKEN_HEADER = 'x-aws-ec2-metadata-token';
const TTL_HEADER = 'x-aws-ec2-metadata-token-ttl-seconds';

/** What the handler needs: where instances are looked up, the token keeper, and the document signer. */
export interface ImdsDependencies {
  readonly source: MetadataSource;
  readonly tokens: SessionTokens;
  /** Signs the instance identity document (base64); Strata's own key, not AWS's. */
  readonly sign: (document: string) => string;
}

type Answer = { status: number; body: string | Buffer; headers?: Record<string, string> };

const statusText: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
};

function failure(status: number): Answer {
  const text = `${status} - ${statusText[status] ?? 'Error'}`;
  const body = `<?xml version="1.0" encoding="iso-8859-1"?>\n<!DOCTYPE html>\n<html><head><title>${text}</title></head><body><h1>${text}</h1></body></html>\n`;
  return { status, body, headers: { 'content-type': 'text/html' } };
}

function mintToken(request: IncomingMessage, instanceId: string, tokens: SessionTokens): Answer {
  // EC2 refuses token requests that went through a proxy, so a token cannot leave the instance that way.
  if (request.headers['x-forwarded-for'] !== undefined) return failure(403);
  const ttlText = request.headers[TTL_HEADER];
  const ttl = typeof ttlText === 'string' && /^[0-9]{1,6}$/.test(ttlText) ? Number(ttlText) : NaN;
  if (!(ttl >= TOKEN_TTL_SECONDS_MIN && ttl <= TOKEN_TTL_SECONDS_MAX)) return failure(400);
  return { status: 200, body: tokens.mint(instanceId, ttl), headers: { [TTL_HEADER]: String(ttl) } };
}

function readTree(path: string, metadata: InstanceMetadata, sign: ImdsDependencies['sign']): Answer {
  if (path === '/') return { status: 200, body: METADATA_VERSIONS.join('\n') };
  const [version, ...rest] = path.split('/').slice(1);
  if (!(METADATA_VERSIONS as readonly string[]).includes(version ?? '')) return failure(404);
  const segments = rest.filter((segment) => segment !== '');
  const tree = metadataTree(metadata, sign);
  const resolved = resolvePath(tree, segments);
  if (resolved.kind === 'missing') return failure(404);
  const binary = Buffer.isBuffer(resolved.body);
  return {
    status: 200,
    body: resolved.body,
    headers: binary ? { 'content-type': 'application/octet-stream' } : {},
  };
}

async function answer(request: IncomingMessage, instanceId: string, deps: ImdsDependencies): Promise<Answer> {
  const metadata = await deps.source(instanceId);
  if (metadata === undefined) return failure(404);
  if (metadata.options.httpEndpoint === 'disabled') return failure(403);
  const path = (request.url ?? '/').split('?')[0]!;
  if (request.method === 'PUT')
    return path === TOKEN_PATH ? mintToken(request, instanceId, deps.tokens) : failure(405);
  if (request.method !== 'GET' && request.method !== 'HEAD') return failure(405);
  const token = request.headers[TOKEN_HEADER];
  if (token !== undefined && (typeof token !== 'string' || !deps.tokens.valid(instanceId, token)))
    return failure(401);
  if (token === undefined && metadata.options.httpTokens === 'required') return failure(401);
  return readTree(path, metadata, deps.sign);
}

/** Handles one request from `instanceId`'s channel. Never throws: a lookup failure answers 500 and is logged by the caller's server. */
export function createImdsHandler(
  deps: ImdsDependencies,
): (instanceId: string, request: IncomingMessage, response: ServerResponse) => Promise<void> {
  return async (instanceId, request, response) => {
    let reply: Answer;
    try {
      reply = await answer(request, instanceId, deps);
    } catch {
      reply = { status: 500, body: 'Internal Server Error' };
    }
    response.writeHead(reply.status, { server: 'EC2ws', 'content-type': 'text/plain', ...reply.headers });
    response.end(request.method === 'HEAD' ? undefined : reply.body);
  };
}
