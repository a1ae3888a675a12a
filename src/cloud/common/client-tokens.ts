// EC2 ClientToken idempotency: a create retried with the same token returns the first call's resource;
// the same token with different parameters is IdempotentParameterMismatch.
import type { Kysely, Transaction } from 'kysely';
import { limits } from '../../base/limits.ts';
import type { Database } from '../../db/schema.ts';
import { nowIso } from '../../db/schema.ts';
import { ec2Error } from '../errors.ts';
import { fingerprint } from './pagination.ts';

/** What a token lookup found: nothing yet, or the resource an identical earlier request made. */
export type TokenLookup =
  | { readonly kind: 'new'; readonly digest: string }
  | { readonly kind: 'replay'; readonly resourceId: string };

/** Checks a token's shape and looks it up; throws IdempotentParameterMismatch on a reuse with other params. */
export async function lookupClientToken(
  db: Kysely<Database> | Transaction<Database>,
  accountId: string,
  action: string,
  token: string,
  params: unknown,
): Promise<TokenLookup> {
  if (token.length > limits.clientTokenCharsMax || !/^[\x20-\x7e]+$/.test(token)) {
    throw ec2Error(
      'InvalidParameterValue',
      `Value (${token}) for parameter clientToken is invalid. Expected: at most ${limits.clientTokenCharsMax} ASCII characters.`,
    );
  }
  const digest = fingerprint(params);
  const row = await db
    .selectFrom('client_tokens')
    .select(['params_digest', 'resource_id'])
    .where('account_id', '=', accountId)
    .where('action', '=', action)
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

/** Records that `token` made `resourceId` (inside the transaction that creates the resource). */
export async function recordClientToken(
  trx: Kysely<Database> | Transaction<Database>,
  accountId: string,
  action: string,
  token: string,
  digest: string,
  resourceId: string,
): Promise<void> {
  await trx
    .insertInto('client_tokens')
    .values({
      account_id: accountId,
      action,
      token,
      params_digest: digest,
      resource_id: resourceId,
      created_at: nowIso(),
    })
    .execute();
}
