// IMDSv2 session tokens: stateless, bound to the instance that asked and to an expiry, sealed with an HMAC
// under a daemon secret. A token minted for one instance is worthless on another instance's channel.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { assert } from '../base/assert.ts';

/** EC2's bounds on X-aws-ec2-metadata-token-ttl-seconds. */
export const TOKEN_TTL_SECONDS_MIN = 1;
export const TOKEN_TTL_SECONDS_MAX = 21_600;

const SECRET_BYTES_MIN = 32;

/** Mints and checks tokens with one secret. */
export class SessionTokens {
  readonly #secret: Buffer;
  readonly #nowMs: () => number;

  constructor(secret: Buffer, nowMs: () => number = Date.now) {
    assert(secret.length >= SECRET_BYTES_MIN, 'SessionTokens: the secret is too short');
    this.#secret = secret;
    this.#nowMs = nowMs;
  }

  /** A token for `instanceId` valid `ttlSeconds` from now. */
  mint(instanceId: string, ttlSeconds: number): string {
    assert(
      Number.isInteger(ttlSeconds) &&
        ttlSeconds >= TOKEN_TTL_SECONDS_MIN &&
        ttlSeconds <= TOKEN_TTL_SECONDS_MAX,
      'SessionTokens.mint: ttl out of range',
    );
    const expiresMs = this.#nowMs() + ttlSeconds * 1000;
    const body = `${expiresMs}`;
    return `${Buffer.from(body).toString('base64url')}.${this.#seal(instanceId, body)}`;
  }

  /** Whether `token` was minted for `instanceId` and has not expired. Any malformed token is simply invalid. */
  valid(instanceId: string, token: string): boolean {
    const [encodedBody, seal, extra] = token.split('.');
    if (encodedBody === undefined || seal === undefined || extra !== undefined) return false;
    const body = Buffer.from(encodedBody, 'base64url').toString();
    if (!/^[0-9]{1,16}$/.test(body)) return false;
    const expected = Buffer.from(this.#seal(instanceId, body));
    const given = Buffer.from(seal);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
    return Number(body) > this.#nowMs();
  }

  #seal(instanceId: string, body: string): string {
    return createHmac('sha256', this.#secret).update(`${instanceId}\n${body}`).digest('base64url');
  }
}
