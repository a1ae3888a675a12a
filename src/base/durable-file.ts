// Files that survive a crash whole: written under a temporary name, fsynced, renamed, directory fsynced.
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** fsyncs `path` (a file or a directory: a directory's fsync makes its renames durable). */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replaces `path` with `data` atomically and durably: readers see the old file or the new one, whole. */
export async function writeFileDurably(path: string, data: string | Buffer, mode = 0o600): Promise<void> {
  const temp = `${path}.tmp`;
  const file = await open(temp, 'w', mode);
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, path);
  await fsyncPath(dirname(path));
}
