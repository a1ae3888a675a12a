// The one idempotency helper: EC2 ClientToken. A create retried with the same token returns the first call's
// resource; the same token with different parameters is IdempotentParameterMismatch; concurrent retries
// with one token run one after another (so they cannot both miss the lookup and both create). At most
// `limits.clientTokensInFlightMax` tokens wait at once; beyond that a request gets RequestLimitExceeded.
//
// Usage, in a create that has validated its request and run its DryRun check:
//   return clientTokens.once({ accountId, action: 'CreateVolume', token, params }, {
//     create: (record) => … insert the row; in its transaction `await record?.(trx, row.id)` …,
//     replay: (resourceId) => … the resource the first call made …,
//   });
import type { Kysely, Transaction } from 'kysely';
import { limits } from '../../base/limits.ts';
import type { Database } from '../../db/schema.ts';
import { nowIso } from '../../db/schema.ts';
import { CloudError, ec2Error } from '../errors.ts';
import { KeyedSerial } from './keyed-serial.ts';
import { fingerprint } from './pagination.ts';

/** A database or a transaction on it. */
type Db = Kysely<Database> | Transaction<Database>;

/** Which create a token belongs to. */
export interface TokenScope {
  readonly accountId: string;
  /** The EC2 action, e.g. `CreateVolume`; tokens are per action. */
  readonly action: string;
  /** The ClientToken, or undefined when the request carries none (then `create` simply runs). */
  readonly token: string | undefined;
  /** The request's parameters, whose digest a retry must match. */
  readonly params: unknown;
}

/** Records the token against the resource; call it inside the transaction that creates the resource. */
export type RecordToken = (trx: Db, resourceId: string) => Promise<void>;

/** What a create does first time and on a retry. */
export interface IdempotentCreate<T> {
  /** Makes the resource; `record` is defined when a token must be recorded with it. */
  create(record: RecordToken | undefined): Promise<T>;
  /** The resource an earlier identical request made. */
  replay(resourceId: string): Promise<T>;
}

/** ClientToken idempotency for every create action; one per daemon. */
export class ClientTokens {
  readonly #db: Kysely<Database>;
  /** Creates waiting per token, one at a time. Bounded by limits.clientTokensInFlightMax. */
  readonly #serial = new KeyedSerial(limits.clientTokensInFlightMax);

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Runs `steps.create` once per token (see the file comment); without a token it just runs. */
  async once<T>(scope: TokenScope, steps: IdempotentCreate<T>): Promise<T> {
    const { token } = scope;
    if (token === undefined) return steps.create(undefined);
    const key = `${scope.action}\u0000${scope.accountId}\u0000${token}`;
    const result = this.#serial.run(key, async () => {
      const lookup = await this.#lookup(scope, token);
      if (lookup.kind === 'replay') return steps.replay(lookup.resourceId);
      return steps.create((trx, resourceId) => this.#record(trx, scope, token, lookup.digest, resourceId));
    });
    if (result === undefined) throw new CloudError('RequestLimitExceeded');
    return result;
  }

  // Checks the token's shape and looks it up; IdempotentParameterMismatch on a reuse with other params.
  async #lookup(scope: TokenScope, token: string): Promise<TokenLookup> {
    if (token.length > limits.clientTokenCharsMax || !/^[\x20-\x7e]+$/.test(token)) {
      throw ec2Error(
        'InvalidParameterValue',
        `Value (${token}) for parameter clientToken is invalid. Expected: at most ${limits.clientTokenCharsMax} ASCII characters.`,
      );
    }
    const digest = fingerprint(scope.params);
    const row = await this.#db
      .selectFrom('client_tokens')
      .select(['params_digest', 'resource_id'])
      .where('account_id', '=', scope.accountId)
      .where('action', '=', scope.action)
      .where('token', '=', token)
      .executeTakeFirst();
    if (row === undefined) return { kind: 'new', digest };
    if (row.params_digest !== digest) {
      throw ec2Error(
        'IdempotentParameterMismatch',
        `The client token you have provided is associated with a resource that is already deleted or has different parameters. Please use a different client token.`,
      );
    }
    return { kind: 'replay', resourceId: row.resource_id };
  }

  async #record(
    trx: Db,
    scope: TokenScope,
    token: string,
    digest: string,
    resourceId: string,
  ): Promise<void> {
    await trx
      .insertInto('client_tokens')
      .values({
        account_id: scope.accountId,
        action: scope.action,
        token,
        params_digest: digest,
        resource_id: resourceId,
        created_at: nowIso(),
      })
      .execute();
  }
}

/** What a token lookup found: nothing yet, or the resource an identical earlier request made. */
type TokenLookup =
  | { readonly kind: 'new'; readonly digest: string }
  | { readonly kind: 'replay'; readonly resourceId: string };
