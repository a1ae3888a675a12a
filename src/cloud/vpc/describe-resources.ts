// The Describe* shape every networking resource shares: the caller's rows by id (NotFound naming the
// missing), EC2 filters with tags, and MaxResults/NextToken paging by id.
import { isValidId, type IdPrefix } from '../../base/ids.ts';
import { CloudError, type ErrorCode } from '../errors.ts';
import { compileFilters, type Filter, type FilterFields } from '../common/filters.ts';
import type { Page, PageBounds, Paginator } from '../common/pagination.ts';
import type { TagService } from '../common/tags.ts';

/** A resource row with its tags. */
export interface Tagged<T> {
  readonly row: T;
  readonly tags: ReadonlyMap<string, string>;
}

/** A Describe request as the API hands it over. */
export interface DescribeRequest {
  readonly ids: readonly string[];
  readonly filters: readonly Filter[];
  readonly maxResults: number | undefined;
  readonly nextToken: string | undefined;
}

/** How to describe one kind of resource. */
export interface DescribeSpec<T> {
  readonly action: string;
  readonly accountId: string;
  readonly request: DescribeRequest;
  /** Every row of the account, any order. */
  readonly rows: readonly T[];
  readonly idOf: (item: T) => string;
  readonly fields: FilterFields<T>;
  readonly tags: ReadonlyMap<string, ReadonlyMap<string, string>>;
  readonly notFound: ErrorCode;
}

/** EC2's MaxResults bounds for the networking Describe actions (5..1000). */
export const describeBounds: PageBounds = { min: 5, max: 1000, clampAbove: false };

/** Throws `code` (`InvalidVpcID.Malformed` …) for the first id not of the form `prefix-` + hex. */
export function checkIds(ids: readonly string[], prefix: IdPrefix, code: ErrorCode): void {
  for (const id of ids) if (!isValidId(id, prefix)) throw new CloudError(code, { id });
}

/** Runs a Describe over `spec.rows`: ids, filters, then one page. */
export function describeRows<T>(paginator: Paginator, spec: DescribeSpec<T>): Page<T> {
  const { request, idOf } = spec;
  const scope = {
    action: spec.action,
    accountId: spec.accountId,
    ids: request.ids,
    filters: request.filters,
  };
  const page = paginator.open(scope, request.maxResults, request.nextToken, describeBounds);
  let rows = [...spec.rows].sort((a, b) => (idOf(a) < idOf(b) ? -1 : idOf(a) > idOf(b) ? 1 : 0));
  if (request.ids.length > 0) {
    const found = new Set(rows.map(idOf));
    const missing = request.ids.filter((id) => !found.has(id));
    if (missing.length > 0) throw new CloudError(spec.notFound, { id: missing.join(', ') });
    rows = rows.filter((row) => request.ids.includes(idOf(row)));
  }
  const keep = compileFilters(request.filters, spec.fields, (item) => spec.tags.get(idOf(item)) ?? new Map());
  const after = page.after;
  const kept = rows.filter((row) => keep(row) && (after === undefined || idOf(row) > after));
  return paginator.page(scope, page, kept, idOf);
}

/** What a Describe over plain rows (tags loaded here) needs besides the rows. */
export interface TaggedDescribe<T> {
  readonly action: string;
  readonly fields: FilterFields<Tagged<T>>;
  readonly notFound: ErrorCode;
}

/** Loads the tags of `rows` and describes them (describeRows over Tagged rows). */
export async function describeTagged<T extends { readonly id: string }>(
  deps: { readonly paginator: Paginator; readonly tags: TagService },
  accountId: string,
  request: DescribeRequest,
  rows: readonly T[],
  spec: TaggedDescribe<T>,
): Promise<Page<Tagged<T>>> {
  const tags = await deps.tags.tagsOf(
    accountId,
    rows.map((r) => r.id),
  );
  return describeRows(deps.paginator, {
    ...spec,
    accountId,
    request,
    rows: rows.map((row) => ({ row, tags: tags.get(row.id) ?? new Map<string, string>() })),
    idOf: (item) => item.row.id,
    tags,
  });
}
