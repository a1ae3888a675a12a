// Small shared pieces: state badges, tags, tables, error banners, and the action runner that shows EC2's
// error message when an action fails.
import type { ComponentChildren, JSX } from 'preact';
import { useState } from 'preact/hooks';
import { errorMessage } from '../api.ts';

/** A resource state as a coloured badge (`data-state` for tests and CSS). */
export function StateBadge({ state }: { state: string | undefined }): JSX.Element {
  const value = state ?? 'unknown';
  return (
    <span class={`badge badge-${value}`} data-state={value}>
      {value}
    </span>
  );
}

/** An EC2 tag list. */
export type Tags = readonly { Key?: string | undefined; Value?: string | undefined }[] | undefined;

/** The Name tag's value, or ''. */
export function nameTag(tags: Tags): string {
  return tags?.find((tag) => tag.Key === 'Name')?.Value ?? '';
}

/** Tags as `key=value` chips. */
export function TagList({ tags }: { tags: Tags }): JSX.Element {
  return (
    <span class="tags">
      {(tags ?? []).map((tag) => (
        <span class="tag" key={tag.Key}>
          {tag.Key}={tag.Value}
        </span>
      ))}
    </span>
  );
}

/** A column of a table: its heading and how a row shows in it. */
export interface Column<T> {
  readonly title: string;
  readonly cell: (row: T) => ComponentChildren;
}

/** A table of rows, or a line saying there are none. */
export function Table<T>(props: {
  readonly label: string;
  readonly columns: readonly Column<T>[];
  readonly rows: readonly T[] | undefined;
  readonly rowKey: (row: T) => string;
}): JSX.Element {
  if (props.rows === undefined) return <p class="muted">Loading…</p>;
  if (props.rows.length === 0) return <p class="muted">None.</p>;
  return (
    <div class="table-wrap">
      <table aria-label={props.label}>
        <thead>
          <tr>
            {props.columns.map((column) => (
              <th scope="col" key={column.title}>
                {column.title}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row) => (
            <tr key={props.rowKey(row)} data-id={props.rowKey(row)}>
              {props.columns.map((column) => (
                <td key={column.title}>{column.cell(row)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** An error line, announced to screen readers. */
export function ErrorBanner({ message }: { message: string | undefined }): JSX.Element | null {
  if (message === undefined) return null;
  return (
    <p class="error" role="alert">
      {message}
    </p>
  );
}

/** Runs actions one at a time; `error` is the last failure's EC2 message, `notice` the last success's. */
export function useAction(after: () => void): {
  readonly busy: boolean;
  readonly error: string | undefined;
  readonly notice: string | undefined;
  readonly run: (label: string, action: () => Promise<unknown>) => Promise<void>;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const run = async (label: string, action: () => Promise<unknown>): Promise<void> => {
    setBusy(true);
    setError(undefined);
    setNotice(undefined);
    try {
      await action();
      setNotice(`${label}: done`);
    } catch (failure) {
      setError(`${label} failed: ${errorMessage(failure)}`);
    } finally {
      setBusy(false);
      after();
    }
  };
  return { busy, error, notice, run };
}

/** The result line of the last action. */
export function ActionResult(props: { error: string | undefined; notice: string | undefined }): JSX.Element {
  return (
    <div class="action-result" aria-live="polite">
      <ErrorBanner message={props.error} />
      {props.notice !== undefined && <p class="notice">{props.notice}</p>}
    </div>
  );
}

/** EC2 filters typed as `name=v1,v2; name2=v3` (the AWS CLI's `Name=…,Values=…` in one line). */
export function parseFilters(text: string): { Name: string; Values: string[] }[] {
  return text
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part.includes('='))
    .map((part) => {
      const at = part.indexOf('=');
      return {
        Name: part.slice(0, at).trim(),
        Values: part
          .slice(at + 1)
          .split(',')
          .map((v) => v.trim()),
      };
    });
}

/** The filter box above a table. */
export function FilterBox(props: {
  value: string;
  onChange: (value: string) => void;
  hint: string;
}): JSX.Element {
  return (
    <label class="filter">
      Filters{' '}
      <input
        type="search"
        value={props.value}
        placeholder={props.hint}
        onChange={(event) => props.onChange((event.target as HTMLInputElement).value)}
      />
    </label>
  );
}

/** Bytes in binary units. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** The body of a list page: the last action's result, the filter box, a load error and the table. */
export function ListSection<T>(props: {
  readonly title: string;
  readonly action: { error: string | undefined; notice: string | undefined };
  readonly filters: string;
  readonly setFilters: (value: string) => void;
  readonly filterHint: string;
  readonly loadError: string | undefined;
  readonly columns: readonly Column<T>[];
  readonly rows: readonly T[] | undefined;
  readonly rowKey: (row: T) => string;
}): JSX.Element {
  return (
    <>
      <ActionResult error={props.action.error} notice={props.action.notice} />
      <FilterBox value={props.filters} onChange={props.setFilters} hint={props.filterHint} />
      <ErrorBanner message={props.loadError} />
      <Table label={props.title} columns={props.columns} rows={props.rows} rowKey={props.rowKey} />
    </>
  );
}
