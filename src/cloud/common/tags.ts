// EC2 tags for every resource type. Kinds register by id prefix (vol-, snap-, later ami-, i-), so CreateTags,
// DeleteTags and DescribeTags work on resources this file knows nothing about. Tags belong to the resource's
// owner: an account that merely sees a shared snapshot sees none of its owner's tags.
import type { Kysely, Transaction } from 'kysely';
import { limits } from '../../base/limits.ts';
import { assert } from '../../base/assert.ts';
import { CloudError, type ErrorCode, ec2Error } from '../errors.ts';
import type { Database } from '../../db/schema.ts';
import { compileFilters, type Filter, type FilterFields, type TagMap } from './filters.ts';
import type { Page, Paginator } from './pagination.ts';
import { type DryRunCheck, noDryRun } from './dry-run.ts';

/** A tag as requests carry it; `value` undefined in DeleteTags means "whatever the value". */
export interface Tag {
  readonly key: string;
  readonly value: string;
}

/** A tag selector of DeleteTags: with no value it matches the key alone. */
export interface TagSelector {
  readonly key: string;
  readonly value: string | undefined;
}

/** One TagSpecification of a create call. */
export interface TagSpecification {
  readonly resourceType: string | undefined;
  readonly tags: readonly Tag[];
}

/** How an account stands to a resource: its owner, allowed to see it (shared), or neither. */
export type ResourceAccess = 'owned' | 'shared' | 'missing';

/** A taggable resource kind, registered by the service that owns it. */
export interface TaggableKind {
  /** Id prefix without the dash: `vol`, `snap`, `ami`, `i`. */
  readonly prefix: string;
  /** EC2 resource-type name: `volume`, `snapshot`, `image`, `instance`. */
  readonly resourceType: string;
  /** Error code for a well-formed id that does not exist. */
  readonly notFound: ErrorCode;
  /** Whether `id` exists for `accountId`. */
  access(accountId: string, id: string): Promise<ResourceAccess>;
}

/** A row of DescribeTags. */
export interface TagDescription {
  readonly resourceId: string;
  readonly resourceType: string;
  readonly key: string;
  readonly value: string;
}

/** DescribeTags MaxResults bounds (5..1000, larger values rejected). */
export const describeTagsBounds = { min: 5, max: 1000, clampAbove: false } as const;

const describeTagsFields: FilterFields<TagDescription> = {
  key: (t) => t.key,
  value: (t) => t.value,
  'resource-id': (t) => t.resourceId,
  'resource-type': (t) => t.resourceType,
};

const idPattern = /^([a-z]+)-([0-9a-f]{8}|[0-9a-f]{17})$/;

/** Tags of every resource kind, scoped by account. */
export class TagService {
  readonly #db: Kysely<Database>;
  readonly #paginator: Paginator;
  readonly #kinds = new Map<string, TaggableKind>();

  constructor(db: Kysely<Database>, paginator: Paginator) {
    this.#db = db;
    this.#paginator = paginator;
  }

  /** Makes a resource kind taggable; each prefix registers once. */
  registerKind(kind: TaggableKind): void {
    assert(!this.#kinds.has(kind.prefix), `taggable kind ${kind.prefix} registered twice`);
    this.#kinds.set(kind.prefix, kind);
  }

  /** The registered kind of `id`, or InvalidID for ids no kind claims. */
  kindOf(id: string): TaggableKind {
    const match = idPattern.exec(id);
    const kind = match ? this.#kinds.get(match[1] as string) : undefined;
    if (!kind) throw new CloudError('InvalidID', { id });
    return kind;
  }

  /** Checks every id exists and is owned by `accountId` (CreateTags/DeleteTags), before anything changes. */
  async checkOwned(accountId: string, resourceIds: readonly string[]): Promise<void> {
    if (resourceIds.length === 0) throw new CloudError('MissingParameter', { name: 'resourceIdSet' });
    for (const id of resourceIds) {
      const kind = this.kindOf(id);
      const access = await kind.access(accountId, id);
      if (access === 'missing') throw new CloudError(kind.notFound, { id });
      if (access === 'shared') throw new CloudError('UnauthorizedOperation');
    }
  }

  /** CreateTags: adds or overwrites tags on resources the account owns. */
  async createTags(
    accountId: string,
    resourceIds: readonly string[],
    tags: readonly Tag[],
    dryRun: DryRunCheck = noDryRun,
  ): Promise<void> {
    validateTags(tags);
    await this.checkOwned(accountId, resourceIds);
    dryRun();
    await this.#db.transaction().execute(async (trx) => {
      for (const id of resourceIds)
        await this.putTags(trx, accountId, id, this.kindOf(id).resourceType, tags);
    });
  }

  /** Writes `tags` on one resource inside `trx`, enforcing the per-resource limit. */
  async putTags(
    trx: Transaction<Database> | Kysely<Database>,
    accountId: string,
    resourceId: string,
    resourceType: string,
    tags: readonly Tag[],
  ): Promise<void> {
    if (tags.length === 0) return;
    const existing = await trx
      .selectFrom('tags')
      .select('key')
      .where('resource_id', '=', resourceId)
      .execute();
    const keys = new Set(existing.map((row) => row.key));
    for (const tag of tags) keys.add(tag.key);
    if (keys.size > limits.tagsPerResourceMax) {
      throw ec2Error(
        'TagLimitExceeded',
        `The maximum number of tags (${limits.tagsPerResourceMax}) for resource ${resourceId} has been reached.`,
      );
    }
    const rows = dedupe(tags).map((t) => ({
      account_id: accountId,
      resource_id: resourceId,
      resource_type: resourceType,
      ...t,
    }));
    await trx
      .insertInto('tags')
      .values(rows)
      .onConflict((oc) =>
        oc.columns(['resource_id', 'key']).doUpdateSet((eb) => ({ value: eb.ref('excluded.value') })),
      )
      .execute();
  }

  /** DeleteTags: no selectors deletes every tag; a selector without value deletes the key whatever its value. */
  async deleteTags(
    accountId: string,
    resourceIds: readonly string[],
    selectors: readonly TagSelector[],
    dryRun: DryRunCheck = noDryRun,
  ): Promise<void> {
    for (const selector of selectors) {
      if (selector.key.toLowerCase().startsWith('aws:')) throw reservedKey();
    }
    await this.checkOwned(accountId, resourceIds);
    dryRun();
    await this.#db.transaction().execute(async (trx) => {
      for (const id of resourceIds) {
        const base = trx.deleteFrom('tags').where('account_id', '=', accountId).where('resource_id', '=', id);
        if (selectors.length === 0) {
          await base.execute();
          continue;
        }
        for (const { key, value } of selectors) {
          const byKey = base.where('key', '=', key);
          await (value === undefined ? byKey : byKey.where('value', '=', value)).execute();
        }
      }
    });
  }

  /** Removes every tag of a deleted resource. */
  async dropAll(trx: Transaction<Database> | Kysely<Database>, resourceId: string): Promise<void> {
    await trx.deleteFrom('tags').where('resource_id', '=', resourceId).execute();
  }

  /** Tags `accountId` put on each of `resourceIds` (all of them when omitted). */
  async tagsOf(
    accountId: string,
    resourceIds?: readonly string[],
  ): Promise<Map<string, Map<string, string>>> {
    let query = this.#db
      .selectFrom('tags')
      .select(['resource_id', 'key', 'value'])
      .where('account_id', '=', accountId);
    // Beyond a few hundred ids an IN list costs more than reading the account's tags once.
    if (resourceIds !== undefined && resourceIds.length <= 500) {
      if (resourceIds.length === 0) return new Map();
      query = query.where('resource_id', 'in', resourceIds);
    }
    const byResource = new Map<string, Map<string, string>>();
    for (const row of await query.execute()) {
      let tags = byResource.get(row.resource_id);
      if (!tags) byResource.set(row.resource_id, (tags = new Map()));
      tags.set(row.key, row.value);
    }
    return byResource;
  }

  /** DescribeTags over every resource the account owns. */
  async describeTags(
    accountId: string,
    filters: readonly Filter[],
    maxResults: number | undefined,
    nextToken: string | undefined,
  ): Promise<Page<TagDescription>> {
    const scope = { action: 'DescribeTags', accountId, filters };
    const request = this.#paginator.open(scope, maxResults, nextToken, describeTagsBounds);
    const rows = await this.#db
      .selectFrom('tags')
      .select(['resource_id', 'resource_type', 'key', 'value'])
      .where('account_id', '=', accountId)
      .orderBy('resource_id')
      .orderBy('key')
      .execute();
    const all = rows.map((r) => ({
      resourceId: r.resource_id,
      resourceType: r.resource_type,
      key: r.key,
      value: r.value,
    }));
    const byResource = new Map<string, Map<string, string>>();
    for (const t of all)
      byResource.set(t.resourceId, (byResource.get(t.resourceId) ?? new Map()).set(t.key, t.value));
    const keep = compileFilters(
      filters,
      describeTagsFields,
      (t): TagMap => byResource.get(t.resourceId) ?? new Map(),
    );
    const after = request.after;
    const sorted = all.filter((t) => keep(t) && (after === undefined || tagSortKey(t) > after));
    return this.#paginator.page(scope, request, sorted, tagSortKey);
  }
}

function tagSortKey(tag: TagDescription): string {
  return `${tag.resourceId}\u0000${tag.key}`;
}

function dedupe(tags: readonly Tag[]): Tag[] {
  return [...new Map(tags.map((t) => [t.key, t])).values()];
}

function reservedKey(): CloudError {
  return ec2Error('InvalidParameterValue', "Tag keys starting with 'aws:' are reserved for internal use");
}

/** Checks EC2's tag rules: key 1..128 chars, value ≤ 256, no `aws:` prefix, at most 50 per request. */
export function validateTags(tags: readonly Tag[]): void {
  if (tags.length === 0) throw new CloudError('MissingParameter', { name: 'Tag' });
  if (tags.length > limits.tagsPerResourceMax) {
    throw ec2Error(
      'TagLimitExceeded',
      `The maximum number of tags (${limits.tagsPerResourceMax}) per request was exceeded.`,
    );
  }
  for (const { key, value } of tags) {
    if (key.length === 0) throw ec2Error('InvalidParameterValue', 'Tag key cannot be empty.');
    if ([...key].length > limits.tagKeyCharsMax) {
      throw ec2Error(
        'InvalidParameterValue',
        `Tag key exceeds the maximum length of ${limits.tagKeyCharsMax} characters`,
      );
    }
    if ([...value].length > limits.tagValueCharsMax) {
      throw ec2Error(
        'InvalidParameterValue',
        `Tag value exceeds the maximum length of ${limits.tagValueCharsMax} characters`,
      );
    }
    if (key.toLowerCase().startsWith('aws:')) throw reservedKey();
  }
}

/**
 * The tags of TagSpecifications meant for `resourceType`. EC2 rejects a specification for any other type,
 * one without a type, and two for the same type.
 */
export function tagsForResource(specs: readonly TagSpecification[], resourceType: string): Tag[] {
  const tags: Tag[] = [];
  let seen = false;
  for (const spec of specs) {
    if (spec.resourceType === undefined)
      throw new CloudError('MissingParameter', { name: 'TagSpecification.ResourceType' });
    if (spec.resourceType !== resourceType) {
      throw ec2Error(
        'InvalidParameterValue',
        `'${spec.resourceType}' is not a valid taggable resource type for this operation.`,
      );
    }
    if (seen) {
      throw ec2Error(
        'InvalidParameterValue',
        `The same resource type may not be specified more than once in tag specifications`,
      );
    }
    seen = true;
    tags.push(...spec.tags);
  }
  if (tags.length > 0) validateTags(tags);
  return tags;
}
