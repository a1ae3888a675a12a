// A SnapshotStore in a directory (local disk or NFS): one file per object, written to a temp file,
// fsynced, then linked/renamed into place and the directory fsynced, so a put is atomic and durable.
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { assert } from '../../base/assert.ts';
import { fsyncPath } from '../../base/durable-file.ts';
import {
  ArchiveError,
  checkKey,
  type ListOptions,
  type ObjectInfo,
  type ObjectPage,
  type PutOptions,
  type SnapshotStore,
} from '../snapshot-store.ts';

const tmpDirName = '.tmp';
const listLimitDefault = 1000;

/** Opens (creating if needed) a directory-backed store rooted at `root` (absolute). */
export async function openDirStore(root: string): Promise<SnapshotStore> {
  assert(root.startsWith('/'), 'dir store root must be absolute');
  await mkdir(join(root, tmpDirName), { recursive: true });
  return new DirStore(root);
}

function isCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

function ioError(operation: string, key: string, error: unknown): ArchiveError {
  return new ArchiveError('EIO', `dir store ${operation} ${key}: ${(error as Error).message}`);
}

class DirStore implements SnapshotStore {
  readonly description: string;
  readonly #root: string;

  constructor(root: string) {
    this.#root = root;
    this.description = `dir:${root}`;
  }

  #path(key: string): string {
    checkKey(key);
    return join(this.#root, key);
  }

  async put(key: string, body: Buffer, options: PutOptions = {}): Promise<'written' | 'exists'> {
    const path = this.#path(key);
    const temp = join(this.#root, tmpDirName, `${randomBytes(8).toString('hex')}.part`);
    try {
      await mkdir(dirname(path), { recursive: true });
      const handle = await open(temp, 'wx');
      try {
        await handle.writeFile(body);
        await handle.sync();
      } finally {
        await handle.close();
      }
      if (options.ifAbsent === true) {
        // link() fails with EEXIST atomically, unlike rename(), which would replace.
        try {
          await link(temp, path);
        } catch (error) {
          if (isCode(error, 'EEXIST')) return 'exists';
          throw error;
        }
        await unlink(temp);
      } else {
        await rename(temp, path);
      }
      await fsyncPath(dirname(path));
      return 'written';
    } catch (error) {
      throw ioError('put', key, error);
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.#path(key));
    } catch (error) {
      if (isCode(error, 'ENOENT'))
        throw new ArchiveError('ENOENT', `no object ${key} in ${this.description}`);
      if (error instanceof ArchiveError) throw error;
      throw ioError('get', key, error);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const info = await stat(this.#path(key));
      return { key, sizeBytes: info.size, modifiedMs: info.mtimeMs };
    } catch (error) {
      if (isCode(error, 'ENOENT')) return undefined;
      if (error instanceof ArchiveError) throw error;
      throw ioError('head', key, error);
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.#path(key);
    try {
      await unlink(path);
      await fsyncPath(dirname(path));
    } catch (error) {
      if (!isCode(error, 'ENOENT')) throw ioError('delete', key, error);
    }
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ObjectPage> {
    const limit = options.limit ?? listLimitDefault;
    assert(Number.isSafeInteger(limit) && limit > 0, 'list limit must be a positive integer');
    // Walk only the directory that holds the prefix, in key order, and stop one key past the page.
    const slash = prefix.lastIndexOf('/');
    const base = slash < 0 ? '' : prefix.slice(0, slash);
    const keys: string[] = [];
    const wanted = (key: string): boolean =>
      key.startsWith(prefix) && (options.startAfter === undefined || key > options.startAfter);
    await this.#walk(base, prefix, options.startAfter ?? '', wanted, keys, limit + 1);
    const objects: ObjectInfo[] = [];
    for (const key of keys.slice(0, limit)) {
      const info = await this.head(key);
      if (info !== undefined) objects.push(info); // deleted while listing
    }
    return { objects, truncated: keys.length > limit };
  }

  /** Appends matching keys under `base` in key order until `keys` holds `count`; skips subtrees before `after`. */
  async #walk(
    base: string,
    prefix: string,
    after: string,
    wanted: (key: string) => boolean,
    keys: string[],
    count: number,
  ): Promise<void> {
    let entries;
    try {
      entries = await readdir(join(this.#root, base), { withFileTypes: true });
    } catch (error) {
      if (isCode(error, 'ENOENT') || isCode(error, 'ENOTDIR')) return;
      throw ioError('list', base, error);
    }
    // A directory sorts as its name plus '/', so the walk yields exact key order ('a-b' < 'a/…' < 'a0').
    const named = entries
      .filter(
        (entry) => !(base === '' && entry.name === tmpDirName) && (entry.isDirectory() || entry.isFile()),
      )
      .map((entry) => ({ entry, key: base === '' ? entry.name : `${base}/${entry.name}` }))
      .map((item) => ({ ...item, order: item.entry.isDirectory() ? `${item.key}/` : item.key }))
      .sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
    for (const { entry, key, order } of named) {
      if (keys.length >= count) return;
      if (!entry.isDirectory()) {
        if (wanted(key)) keys.push(key);
        continue;
      }
      const relevant = order.startsWith(prefix) || prefix.startsWith(order);
      const pastAfter = order > after || after.startsWith(order);
      if (relevant && pastAfter) await this.#walk(key, prefix, after, wanted, keys, count);
    }
  }

  async close(): Promise<void> {}
}
