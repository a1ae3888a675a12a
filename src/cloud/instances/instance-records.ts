// Reading instance rows: the lookups RunInstances/Describe*, the lifecycle and the attachments share. Kept
// apart from InstanceService so the lifecycle reads instances without depending on the service that hands
// it launches (no instances ↔ lifecycle circle).
import type { Kysely, Selectable } from 'kysely';
import { isValidId } from '../../base/ids.ts';
import type { Database } from '../../db/schema.ts';
import type { InstancesTable } from '../../db/tables/instances.ts';
import { CloudError, notFoundError } from '../errors.ts';
import { incorrectState } from './instance-states.ts';

/** An instance row as read. */
export type InstanceRow = Selectable<InstancesTable>;

/** Throws InvalidInstanceID.Malformed for ids that are not `i-` + 8 or 17 hex digits. */
export function checkInstanceIds(ids: readonly string[]): void {
  for (const id of ids) if (!isValidId(id, 'i')) throw new CloudError('InvalidInstanceID.Malformed', { id });
}

/** Throws IncorrectInstanceState unless every row is in one of `states`. */
export function requireStates(rows: readonly InstanceRow[], states: readonly string[], action: string): void {
  for (const row of rows) if (!states.includes(row.state)) throw incorrectState(row.id, row.state, action);
}

/** The instances table, read. */
export class InstanceRecords {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** The caller's rows by id (all when `ids` is empty), in id order, after `after` when paging. */
  async rows(accountId: string, ids: readonly string[], after?: string): Promise<InstanceRow[]> {
    let query = this.#db
      .selectFrom('instances')
      .selectAll()
      .where('account_id', '=', accountId)
      .orderBy('id');
    if (ids.length > 0) query = query.where('id', 'in', ids);
    if (after !== undefined) query = query.where('id', '>', after);
    return query.execute();
  }

  /** The caller's instances `ids`, all of them, or InvalidInstanceID.NotFound naming the missing. */
  async owned(accountId: string, ids: readonly string[]): Promise<InstanceRow[]> {
    if (ids.length === 0) throw new CloudError('MissingParameter', { name: 'InstanceId' });
    checkInstanceIds(ids);
    const rows = await this.rows(accountId, ids);
    const found = new Set(rows.map((r) => r.id));
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length > 0) throw notFoundError('InvalidInstanceID.NotFound', missing);
    return ids.map((id) => rows.find((r) => r.id === id) as InstanceRow);
  }

  /** An instance by id, any account (driver events and background work carry only the id). */
  async byId(instanceId: string): Promise<InstanceRow | undefined> {
    return this.#db.selectFrom('instances').selectAll().where('id', '=', instanceId).executeTakeFirst();
  }
}
