// EC2 `MaxResults`/`NextToken` paging. Tokens are opaque: a position (the last id returned) bound to the
// account, the action and a fingerprint of the request's other parameters, sealed with an HMAC so a client
// can neither forge a position nor reuse a token with different filters.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { assert } from '../../base/assert.ts';
import { ec2Error } from '../errors.ts';

/** EC2's MaxResults bounds for one action; `clampAbove` when EC2 documents larger values as "return max". */
export interface PageBounds {
  readonly min: number;
  readonly max: number;
  readonly clampAbove: boolean;
}

/** A page request after validation: how many to return (undefined = all) and where to start. */
export interface PageRequest {
  readonly limit: number | undefined;
  /** Return only items whose sort key is strictly greater than this. */
  readonly after: string | undefined;
}

/** One page of results and the token for the next, if more remain. */
export interface Page<T> {
  readonly items: T[];
  readonly nextToken: string | undefined;
}

interface TokenBody {
  /** Sort key of the last item returned. */
  readonly a: string;
  /** Fingerprint of account, action and request parameters. */
  readonly f: string;
}

/** Seals and opens NextTokens with one secret (per daemon: tokens are not meant to outlive it). */
export class Paginator {
  readonly #secret: Buffer;

  constructor(secret: Buffer = randomBytes(32)) {
    assert(secret.length >= 16, 'pagination secret too short');
    this.#secret = secret;
  }

  /** Validates MaxResults/NextToken for one request; `scope` is everything that must stay the same across pages. */
  open(
    scope: unknown,
    maxResults: number | undefined,
    nextToken: string | undefined,
    bounds: PageBounds,
  ): PageRequest {
    assert(bounds.min <= bounds.max, 'page bounds inverted');
    const limit = checkMaxResults(maxResults, bounds);
    if (nextToken === undefined || nextToken === '') return { limit, after: undefined };
    const body = this.#unseal(nextToken);
    if (body === undefined || body.f !== fingerprint(scope)) {
      throw ec2Error(
        'InvalidParameterValue',
        `Value ( ${nextToken} ) for parameter NextToken is invalid. The token is invalid.`,
      );
    }
    return { limit, after: body.a };
  }

  /** Cuts `sorted` (ascending by `keyOf`, already past `request.after`) into a page and its next token. */
  page<T>(scope: unknown, request: PageRequest, sorted: readonly T[], keyOf: (item: T) => string): Page<T> {
    if (request.limit === undefined || sorted.length <= request.limit)
      return { items: [...sorted], nextToken: undefined };
    const items = sorted.slice(0, request.limit);
    const last = items[items.length - 1];
    assert(last !== undefined, 'page must hold at least one item');
    return { items, nextToken: this.#seal({ a: keyOf(last), f: fingerprint(scope) }) };
  }

  #seal(body: TokenBody): string {
    const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
    return `${payload}.${this.#mac(payload)}`;
  }

  #unseal(token: string): TokenBody | undefined {
    const [payload, mac, extra] = token.split('.');
    if (payload === undefined || mac === undefined || extra !== undefined) return undefined;
    const expected = Buffer.from(this.#mac(payload));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    const body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as TokenBody;
    return typeof body.a === 'string' && typeof body.f === 'string' ? body : undefined;
  }

  #mac(payload: string): string {
    return createHmac('sha256', this.#secret).update(payload).digest('base64url');
  }
}

function checkMaxResults(maxResults: number | undefined, bounds: PageBounds): number | undefined {
  if (maxResults === undefined) return undefined;
  if (!Number.isInteger(maxResults) || maxResults < bounds.min) {
    throw ec2Error(
      'InvalidParameterValue',
      `Value ( ${maxResults} ) for parameter maxResults is invalid. Expecting a value greater than ${bounds.min - 1}.`,
    );
  }
  if (maxResults <= bounds.max) return maxResults;
  if (bounds.clampAbove) return bounds.max;
  throw ec2Error(
    'InvalidParameterValue',
    `Value ( ${maxResults} ) for parameter maxResults is invalid. Expecting a value less than ${bounds.max + 1}.`,
  );
}

/** A stable digest of any JSON-able request scope (object keys sorted so order does not matter). */
export function fingerprint(scope: unknown): string {
  return createHash('sha256').update(stableJson(scope)).digest('base64url').slice(0, 22);
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
