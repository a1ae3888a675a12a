// Typed reading of EC2 Query parameters (the flat `Name=Value` pairs of a GET query or POST form).
//
// Usage inside an action's run(ctx, params):
//   const size = params.int('Size', { min: 1, max: 16384 });            // number | undefined
//   const zone = params.requiredString('AvailabilityZone');             // MissingParameter if absent
//   const ids = params.list('VolumeId');                                 // VolumeId.1, VolumeId.2 … → string[]
//   const filters = params.filters();                                    // Filter.N.Name / Filter.N.Value.M
//   const specs = params.tagSpecifications();                            // TagSpecification.N.ResourceType / Tag.M.Key/Value
//   const page = params.page();                                          // MaxResults / NextToken
//   for (const mapping of params.structList('BlockDeviceMapping')) mapping.string('DeviceName') …
// Every reader throws catalogue errors (MissingParameter, InvalidParameterValue) naming the full
// parameter (`Filter.2.Name`) and saying what was expected and what came.
import { ApiError } from '../errors.ts';

/** One `Filter.N`: a name and the values any of which may match. */
export interface Filter {
  readonly name: string;
  readonly values: readonly string[];
}

/** One tag. */
export interface Tag {
  readonly key: string;
  readonly value: string;
}

/** One `TagSpecification.N`. */
export interface TagSpecification {
  readonly resourceType: string;
  readonly tags: readonly Tag[];
}

/** `MaxResults` / `NextToken`, validated; absent MaxResults means "no limit asked". */
export interface PageRequest {
  readonly maxResults: number | undefined;
  readonly nextToken: string | undefined;
}

/** Bounds of an integer parameter, inclusive. */
export interface IntBounds {
  readonly min?: number;
  readonly max?: number;
}

/** A read-only view of Query parameters, optionally scoped under a prefix such as `Filter.1.`. */
export class QueryParams {
  readonly #entries: ReadonlyMap<string, string>;
  readonly #prefix: string;

  constructor(entries: ReadonlyMap<string, string> | Iterable<readonly [string, string]>, prefix = '') {
    this.#entries = entries instanceof Map ? entries : new Map(entries);
    this.#prefix = prefix;
  }

  /** Parameters from a URL query string or form body (`a=1&b=2`). */
  static parse(encoded: string): QueryParams {
    return new QueryParams(new URLSearchParams(encoded).entries());
  }

  /** The full name of `name` as the client spelled it (with this view's prefix). */
  fullName(name: string): string {
    return this.#prefix + name;
  }

  /** Whether `name` or any `name.…` is present. */
  has(name: string): boolean {
    const full = this.fullName(name);
    if (this.#entries.has(full)) return true;
    for (const key of this.#entries.keys()) if (key.startsWith(`${full}.`)) return true;
    return false;
  }

  /** The raw names present in this view (without the prefix), e.g. for logging unknown parameters. */
  names(): string[] {
    return [...this.#entries.keys()]
      .filter((key) => key.startsWith(this.#prefix))
      .map((key) => key.slice(this.#prefix.length));
  }

  /** A string parameter, or undefined when absent. */
  string(name: string): string | undefined {
    return this.#entries.get(this.fullName(name));
  }

  /** A string parameter that must be present (empty counts as absent, as in EC2). */
  requiredString(name: string): string {
    const value = this.string(name);
    if (value === undefined || value === '')
      throw new ApiError('MissingParameter', { name: this.fullName(name) });
    return value;
  }

  /** An integer parameter within `bounds`, or undefined when absent. */
  int(name: string, bounds: IntBounds = {}): number | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    const min = bounds.min ?? Number.MIN_SAFE_INTEGER;
    const max = bounds.max ?? Number.MAX_SAFE_INTEGER;
    const value = /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw this.invalid(name, raw, describeBounds(bounds));
    }
    return value;
  }

  /** An integer parameter that must be present. */
  requiredInt(name: string, bounds: IntBounds = {}): number {
    const value = this.int(name, bounds);
    if (value === undefined) throw new ApiError('MissingParameter', { name: this.fullName(name) });
    return value;
  }

  /** A boolean parameter (`true`/`false`, any case), or undefined when absent. */
  boolean(name: string): boolean | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    const lower = raw.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
    throw this.invalid(name, raw, 'true or false');
  }

  /** A parameter restricted to `allowed` values, or undefined when absent. */
  enumOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(raw))
      throw this.invalid(name, raw, `one of ${allowed.join(', ')}`);
    return raw as T;
  }

  /** `Name.1`, `Name.2` … as a list ordered by index (EC2 allows gaps, and any start: libcloud sends `Name.0`). Absent → []. */
  list(name: string): string[] {
    return this.indices(name).map((index) => this.#entries.get(`${this.fullName(name)}.${index}`) ?? '');
  }

  /** `Name.N.Field` groups as scoped views, ordered by N; read each with `string('Field')` etc. */
  structList(name: string): QueryParams[] {
    return this.indices(name, true).map(
      (index) => new QueryParams(this.#entries, `${this.fullName(name)}.${index}.`),
    );
  }

  /** `Filter.N.Name` / `Filter.N.Value.M`; a filter without a name is MissingParameter. */
  filters(name = 'Filter'): Filter[] {
    return this.structList(name).map((filter) => ({
      name: filter.requiredString('Name'),
      values: filter.list('Value'),
    }));
  }

  /** `Tag.N.Key` / `Tag.N.Value` (value defaults to ''). */
  tags(name = 'Tag'): Tag[] {
    return this.structList(name).map((tag) => ({
      key: tag.requiredString('Key'),
      value: tag.string('Value') ?? '',
    }));
  }

  /** `TagSpecification.N.ResourceType` with its `Tag.M.Key/Value`; a specification without tags is refused, as EC2. */
  tagSpecifications(name = 'TagSpecification'): TagSpecification[] {
    return this.structList(name).map((spec) => {
      const resourceType = spec.requiredString('ResourceType');
      const tags = spec.tags();
      if (tags.length === 0)
        throw new ApiError('InvalidParameterValue', {
          message: 'Tag specification must have at least one tag',
        });
      return { resourceType, tags };
    });
  }

  /** `MaxResults` (an integer within `bounds`, at least 0 by default; see cloud/pagination.ts for EC2's per-action rules) and `NextToken`. */
  page(bounds: IntBounds = { min: 0 }): PageRequest {
    return { maxResults: this.int('MaxResults', bounds), nextToken: this.string('NextToken') };
  }

  /** An InvalidParameterValue error for `name`, saying what was expected and what came. */
  invalid(name: string, value: string, expected: string): ApiError {
    return new ApiError('InvalidParameterValue', { name: this.fullName(name), value, expected });
  }

  // Numeric indices N present as `name.N` (plain lists) or `name.N.…` (struct lists), sorted. EC2 orders by
  // N and does not care where it starts, so 0 (libcloud's first index) is as good as 1.
  private indices(name: string, struct = false): number[] {
    const head = `${this.fullName(name)}.`;
    const found = new Set<number>();
    for (const key of this.#entries.keys()) {
      if (!key.startsWith(head)) continue;
      const rest = key.slice(head.length);
      const match = struct ? /^(\d+)\./.exec(rest) : /^(\d+)$/.exec(rest);
      if (match === null) continue;
      const index = Number(match[1]);
      if (!Number.isSafeInteger(index))
        throw this.invalid(`${name}.${match[1]}`, key, `${head}N with N a safe integer`);
      found.add(index);
    }
    return [...found].sort((a, b) => a - b);
  }
}

function describeBounds(bounds: IntBounds): string {
  if (bounds.min !== undefined && bounds.max !== undefined)
    return `an integer from ${bounds.min} to ${bounds.max}`;
  if (bounds.min !== undefined) return `an integer of at least ${bounds.min}`;
  if (bounds.max !== undefined) return `an integer of at most ${bounds.max}`;
  return 'an integer';
}
