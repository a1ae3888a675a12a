// One test for "the disk is full", whichever layer said it: the block store (StoreError ENOSPC), Node's file
// system calls (ENOSPC, EDQUOT), SQLite (SQLITE_FULL) or PostgreSQL (SQLSTATE 53100 disk_full).
const codes = new Set<unknown>(['ENOSPC', 'EDQUOT', 'SQLITE_FULL', '53100']);

/** Whether `error`, or an error it wraps (`cause`), says there is no space left. */
export function isOutOfSpace(error: unknown): boolean {
  for (let depth = 0; depth < 8 && typeof error === 'object' && error !== null; depth++) {
    if (codes.has((error as { code?: unknown }).code)) return true;
    error = (error as { cause?: unknown }).cause;
  }
  return false;
}
