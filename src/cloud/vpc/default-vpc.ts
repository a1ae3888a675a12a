// Every account's default VPC in this region, made on first need (any networking call or a launch) by one
// writer: the `default_vpcs` marker row is inserted first in the same transaction, so of two racing
// requests (two hosts, or two requests on one) exactly one creates it. After DeleteVpc removed it the
// marker stays with a null id, so it is not made again until CreateDefaultVpc.
import type { Kysely } from 'kysely';
import { newId } from '../../base/ids.ts';
import type { Database } from '../../db/schema.ts';
import { nowIso } from '../../db/schema.ts';
import type { Regions } from '../common/regions.ts';
import type { DryRunCheck } from '../common/dry-run.ts';
import { CloudError } from '../errors.ts';
import { insertDefaultVpc } from './vpc-rows.ts';

/** The default VPCs of every account. */
export class DefaultVpcs {
  readonly #db: Kysely<Database>;
  readonly #regions: Regions;

  constructor(db: Kysely<Database>, regions: Regions) {
    this.#db = db;
    this.#regions = regions;
  }

  /** The account's default VPC id, made now if it never existed; undefined once it was deleted. */
  async ensure(accountId: string): Promise<string | undefined> {
    const marker = await this.#marker(accountId);
    if (marker !== undefined) return marker.vpc_id ?? undefined;
    const vpcId = newId('vpc');
    await this.#db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto('default_vpcs')
        .values({ account_id: accountId, vpc_id: vpcId })
        .onConflict((oc) => oc.column('account_id').doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return;
      await insertDefaultVpc(trx, accountId, vpcId, this.#regions.zones, nowIso());
    });
    return (await this.#marker(accountId))?.vpc_id ?? undefined;
  }

  /** CreateDefaultVpc: makes a new default VPC after the old one was deleted. */
  async recreate(accountId: string, dryRun: DryRunCheck): Promise<string> {
    const existing = await this.ensure(accountId);
    if (existing !== undefined) throw new CloudError('DefaultVpcAlreadyExists');
    dryRun();
    const vpcId = newId('vpc');
    await this.#db.transaction().execute(async (trx) => {
      const claimed = await trx
        .updateTable('default_vpcs')
        .set({ vpc_id: vpcId })
        .where('account_id', '=', accountId)
        .where('vpc_id', 'is', null)
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) === 0) throw new CloudError('DefaultVpcAlreadyExists');
      await insertDefaultVpc(trx, accountId, vpcId, this.#regions.zones, nowIso());
    });
    return vpcId;
  }

  #marker(accountId: string): Promise<{ vpc_id: string | null } | undefined> {
    return this.#db
      .selectFrom('default_vpcs')
      .select('vpc_id')
      .where('account_id', '=', accountId)
      .executeTakeFirst();
  }
}
