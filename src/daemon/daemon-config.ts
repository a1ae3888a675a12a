// Options shared by `strata serve` and `strata account`: where the data dir and database are, parsed from
// flags with matching environment variables (flags win).
import { join, resolve } from 'node:path';
import { Option } from 'commander';
import type { ListenAddress } from './daemon.ts';

/** Default data directory: `./data`, relative to where strata is started (a checkout, in development). */
export const defaultDataDir = './data';
/** Default API address (Contract). */
export const defaultListen = '127.0.0.1:8773';
// `--listen :8774` keeps the default host, as a user trying another port means.
const defaultHost = '127.0.0.1';

/** `--data-dir DIR` (STRATA_DATA_DIR). */
export function dataDirOption(): Option {
  return new Option('--data-dir <dir>', 'pool, database, keys and sockets live here')
    .env('STRATA_DATA_DIR')
    .default(defaultDataDir);
}

/** `--database URL` (STRATA_DATABASE_URL). */
export function databaseOption(): Option {
  return new Option('--database <url>', 'postgres://… (default: SQLite at <data-dir>/strata.db)').env(
    'STRATA_DATABASE_URL',
  );
}

/** Parses `HOST:PORT` (IPv6 as `[::1]:PORT`; `:PORT` is loopback); throws a message naming the flag on bad input. */
export function parseListenAddress(value: string, flag: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (match === null || port > 65535)
    throw new Error(`${flag} must be HOST:PORT or :PORT (e.g. 127.0.0.1:8773): got ${value}`);
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? defaultHost : host, port };
}

/** The database location for a data dir and optional URL. */
export function databaseLocation(
  dataDir: string,
  url: string | undefined,
): { url: string } | { sqlitePath: string } {
  return url !== undefined && url !== '' ? { url } : { sqlitePath: join(resolve(dataDir), 'strata.db') };
}
