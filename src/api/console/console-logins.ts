// One-time sign-in links for the console (`strata console-url`). The daemon mints a random 256-bit token when
// asked over its admin socket (0600: only its user), keeps only the token's SHA-256 with an expiry, and
// exchanges the token once, over a POST, for the admin's keys. The link carries the token in the URL's
// fragment, so it reaches no request line or log; the secret itself is never in a URL. A redeemed, expired
// or unknown token gets the same answer.
import { createHash, randomBytes } from 'node:crypto';
import { assert } from '../../base/assert.ts';
import { limits } from '../../base/limits.ts';
import type { AccessKey } from '../../cloud/common/accounts.ts';

interface Pending {
  readonly key: AccessKey;
  readonly expiresMs: number;
}

const tokenBytes = 32;

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The pending sign-in tokens of one daemon (in memory: a restart voids every link). */
export class ConsoleLogins {
  readonly #pending = new Map<string, Pending>();
  readonly #now: () => number;

  /** `now` is for tests that move the clock. */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** A new token that `redeem` exchanges once for `key`, within limits.consoleLoginTtlSeconds. */
  mint(key: AccessKey): string {
    this.#sweep();
    while (this.#pending.size >= limits.consoleLoginsPendingMax) {
      const oldest = this.#pending.keys().next().value;
      assert(oldest !== undefined, 'a full map has a first entry');
      this.#pending.delete(oldest);
    }
    const token = randomBytes(tokenBytes).toString('base64url');
    this.#pending.set(digest(token), { key, expiresMs: this.#now() + limits.consoleLoginTtlSeconds * 1000 });
    assert(this.#pending.size <= limits.consoleLoginsPendingMax, 'pending logins bounded');
    return token;
  }

  /** The key `token` was minted for, once; undefined when unknown, spent or expired. */
  redeem(token: string): AccessKey | undefined {
    if (token.length === 0 || token.length > 2 * tokenBytes) return undefined;
    const hash = digest(token);
    const pending = this.#pending.get(hash);
    this.#pending.delete(hash);
    if (pending === undefined || pending.expiresMs < this.#now()) return undefined;
    return pending.key;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [hash, pending] of this.#pending) if (pending.expiresMs < now) this.#pending.delete(hash);
  }
}
