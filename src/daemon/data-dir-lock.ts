// One daemon per data dir. The lock is an operating-system lock, not a pid file that a crash leaves stale:
// SQLite holds an exclusive fcntl lock on `<data-dir>/strata.lock` for as long as the daemon's connection is
// open, and the kernel drops it when the process dies, however it dies. Node has no flock of its own, and
// better-sqlite3 is loaded anyway. `<data-dir>/strata.pid` beside it only names the holder in the message.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { assert } from '../base/assert.ts';

/** Another process holds the data dir; `pid` is the one it recorded, when it could be read. */
export class DataDirLockedError extends Error {
  /** The holder's pid, from `<data-dir>/strata.pid`, or undefined when that file is missing or unreadable. */
  readonly pid: number | undefined;

  constructor(dataDir: string, pid: number | undefined) {
    super(
      `Strata is already running here (${pid === undefined ? 'pid unknown' : `pid ${pid}`}): ` +
        `${dataDir} is in use; stop that daemon first, or give another --data-dir`,
    );
    this.name = 'DataDirLockedError';
    this.pid = pid;
  }
}

/** A held lock; release() lets the next daemon in (the kernel also does, if this process dies). */
export interface DataDirLock {
  release(): void;
}

/** The files the lock uses in `dataDir`. */
export function lockPaths(dataDir: string): { lock: string; pid: string } {
  return { lock: join(dataDir, 'strata.lock'), pid: join(dataDir, 'strata.pid') };
}

/** Takes the data dir's lock at once (never waits); throws DataDirLockedError when another process holds it. */
export function lockDataDir(dataDir: string): DataDirLock {
  const paths = lockPaths(dataDir);
  // timeout 0: a held lock is an answer, not something to wait for.
  const connection = new SqliteDatabase(paths.lock, { timeout: 0 });
  try {
    connection.pragma('locking_mode = EXCLUSIVE');
    connection.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    connection.close();
    if ((error as { code?: unknown }).code === 'SQLITE_BUSY')
      throw new DataDirLockedError(dataDir, holder(paths.pid));
    throw error;
  }
  assert(connection.inTransaction, 'the data dir lock is a transaction held open');
  const temporary = `${paths.pid}.tmp-${process.pid}`;
  writeFileSync(temporary, `${process.pid}\n`, { mode: 0o600 });
  renameSync(temporary, paths.pid);
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      if (holder(paths.pid) === process.pid) rmSync(paths.pid, { force: true });
      connection.close();
    },
  };
}

function holder(pidPath: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidPath, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
