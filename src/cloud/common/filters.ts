// EC2 `Filter.N.Name` / `Filter.N.Value.M` semantics: filters AND together, the values of one filter OR
// together, values match with `*` (any run) and `?` (any one character), `\` escapes, case-sensitively.
// `tag:<key>`, `tag-key` and `tag-value` work on every resource that has tags.
import { ec2Error } from '../errors.ts';

/** One filter as the request carries it. */
export interface Filter {
  readonly name: string;
  readonly values: readonly string[];
}

/** What a filter field yields for one resource: a scalar, several values (any may match), or nothing. */
export type FieldValue =
  string | number | boolean | null | undefined | readonly (string | number | boolean)[];

/** The filter names one resource type supports, each with how to read it from a row. */
export type FilterFields<T> = Readonly<Record<string, (item: T) => FieldValue>>;

/** Tags of one resource, key to value. */
export type TagMap = ReadonlyMap<string, string>;

const wildcardCache = new Map<string, RegExp>();
const wildcardCacheMax = 1024;

/** Compiles an EC2 filter value into an anchored regex: `*` any run, `?` one char, `\` escapes. */
export function wildcardRegex(pattern: string): RegExp {
  const cached = wildcardCache.get(pattern);
  if (cached) return cached;
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\' && i + 1 < pattern.length) source += escapeRegex(pattern[++i] as string);
    else if (c === '*') source += '[\\s\\S]*';
    else if (c === '?') source += '[\\s\\S]';
    else source += escapeRegex(c);
  }
  const regex = new RegExp(`^${source}$`);
  if (wildcardCache.size >= wildcardCacheMax) wildcardCache.clear();
  wildcardCache.set(pattern, regex);
  return regex;
}

function escapeRegex(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Whether `value` matches any of the filter's wildcard `patterns`. */
export function matchesAny(value: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) => wildcardRegex(pattern).test(value));
}

function fieldStrings(value: FieldValue): string[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value.map(String);
  return [String(value as string | number | boolean)];
}

/**
 * Builds a predicate from request filters, rejecting unknown names with EC2's InvalidParameterValue.
 * `tagsOf` supplies the resource's tags for `tag:*`, `tag-key` and `tag-value`.
 */
export function compileFilters<T>(
  filters: readonly Filter[],
  fields: FilterFields<T>,
  tagsOf: (item: T) => TagMap,
): (item: T) => boolean {
  const tests: ((item: T) => boolean)[] = [];
  for (const filter of filters) {
    if (filter.values.length === 0) {
      throw ec2Error('InvalidParameterValue', `The filter '${filter.name}' requires at least one value`);
    }
    tests.push(compileOne(filter, fields, tagsOf));
  }
  return (item) => tests.every((t) => t(item));
}

function compileOne<T>(
  filter: Filter,
  fields: FilterFields<T>,
  tagsOf: (item: T) => TagMap,
): (item: T) => boolean {
  const { name, values } = filter;
  if (name.startsWith('tag:') && name.length > 4) {
    const key = name.slice(4);
    return (item) => {
      const value = tagsOf(item).get(key);
      return value !== undefined && matchesAny(value, values);
    };
  }
  if (name === 'tag-key') return (item) => [...tagsOf(item).keys()].some((k) => matchesAny(k, values));
  if (name === 'tag-value') return (item) => [...tagsOf(item).values()].some((v) => matchesAny(v, values));
  const field = Object.hasOwn(fields, name) ? fields[name] : undefined;
  if (!field) throw ec2Error('InvalidParameterValue', `The filter '${name}' is invalid`);
  return (item) => fieldStrings(field(item)).some((v) => matchesAny(v, values));
}

/** Whether any filter needs tags (so callers can skip loading them). */
export function filtersUseTags(filters: readonly Filter[]): boolean {
  return filters.some((f) => f.name.startsWith('tag:') || f.name === 'tag-key' || f.name === 'tag-value');
}
