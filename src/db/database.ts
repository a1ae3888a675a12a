// Opens Strata's metadata database: SQLite (default) or PostgreSQL, both through Kysely, migrated at open.
//
// Usage:
//   import { openDatabase } from '../db/database.ts';
//   const database = await openDatabase({ sqlitePath: '/var/lib/strata/strata.db' }); // or { url: 'postgres://…' }
//   const rows = await database.db.selectFrom('accounts').selectAll().where('id', '=', accountId).execute();
//   await database.close();
// `database.dialect` says which one you got ('sqlite' | 'postgres') for the rare query that must differ.
// Schema conventions (timestamps, booleans) and how to add a table/migration: see schema.ts.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import type { Dialect, Driver, MigrationProvider } from 'kysely';
import { assert } from '../base/assert.ts';
import { limits } from '../base/limits.ts';
import type { Database } from './schema.ts';
import { migrations } from './migrations/migrations.ts';

/** Which SQL engine a database runs on. */
export type DbDialect = 'sqlite' | 'postgres';

/** Where the database lives: a `postgres://` URL, else a SQLite file (`:memory:` works for tests). */
export interface OpenDatabaseOptions {
  readonly url?: string;
  readonly sqlitePath?: string;
}

/** An open, migrated database. */
export interface OpenedDatabase {
  readonly db: Kysely<Database>;
  readonly dialect: DbDialect;
  /** Closes every connection; the handle is unusable afterwards. */
  close(): Promise<void>;
}

/** Whether `url` names a PostgreSQL database. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

/** Opens (creating if needed) and migrates the database described by `options`. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<OpenedDatabase> {
  const { dialect, kyselyDialect } = chooseDialect(options);
  const db = new Kysely<Database>({ dialect: kyselyDialect });
  try {
    await migrate(db);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  let closed = false;
  return {
    db,
    dialect,
    close: async () => {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}

function chooseDialect(options: OpenDatabaseOptions): { dialect: DbDialect; kyselyDialect: Dialect } {
  if (options.url !== undefined) {
    if (!isPostgresUrl(options.url)) {
      throw new Error(
        `database url must start with postgres:// or postgresql://: got ${JSON.stringify(options.url)}`,
      );
    }
    const pool = new pg.Pool({ connectionString: options.url, max: limits.dbConnectionsMax });
    return { dialect: 'postgres', kyselyDialect: new PostgresDialect({ pool }) };
  }
  const path = options.sqlitePath;
  assert(path !== undefined && path.length > 0, 'openDatabase: give url or sqlitePath');
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new SqliteDatabase(path);
  // WAL: readers never block the writer; NORMAL sync is durable at checkpoints and safe with WAL.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma(`busy_timeout = ${limits.dbBusyTimeoutMs}`);
  return { dialect: 'sqlite', kyselyDialect: new CauseKeepingSqliteDialect(sqlite) };
}

// SQLite rolls a transaction back by itself on some errors (SQLITE_FULL among them); Kysely's ROLLBACK then
// fails with "cannot rollback - no transaction is active", and that error would replace the real cause.
class CauseKeepingSqliteDialect extends SqliteDialect {
  readonly #sqlite: SqliteDatabase.Database;

  constructor(sqlite: SqliteDatabase.Database) {
    super({ database: sqlite });
    this.#sqlite = sqlite;
  }

  override createDriver(): Driver {
    const driver = super.createDriver();
    const rollback = driver.rollbackTransaction.bind(driver);
    driver.rollbackTransaction = async (connection) => {
      if (this.#sqlite.inTransaction) await rollback(connection);
    };
    return driver;
  }
}

const provider: MigrationProvider = { getMigrations: () => Promise.resolve({ ...migrations }) };

async function migrate(db: Kysely<Database>): Promise<void> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((result) => result.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`database migration ${failed} failed: ${String(error)}`, { cause: error });
  }
}
