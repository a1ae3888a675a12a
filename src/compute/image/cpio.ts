// A writer for the "newc" cpio format the kernel unpacks as an initramfs. Hand-written because the archive
// must be deterministic (owner root, mtime 0) whoever builds it, without staging files on disk.
import { assert, assertNever } from '../../base/assert.ts';

/** One archive member: a directory, a regular file or a symlink. */
export type CpioEntry =
  | { readonly kind: 'dir'; readonly path: string; readonly mode?: number }
  | { readonly kind: 'file'; readonly path: string; readonly data: Uint8Array; readonly mode?: number }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string };

const MAGIC = '070701';
const TRAILER = 'TRAILER!!!';

function pad4(length: number): number {
  return (4 - (length % 4)) % 4;
}

function header(inode: number, mode: number, nlink: number, size: number, nameBytes: number): string {
  const fields = [inode, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, nameBytes, 0];
  return MAGIC + fields.map((field) => field.toString(16).padStart(8, '0')).join('');
}

function member(inode: number, mode: number, nlink: number, path: string, data: Uint8Array): Buffer[] {
  assert(!path.startsWith('/'), `cpio paths are relative: ${path}`);
  const name = Buffer.from(`${path}\0`);
  const head = Buffer.from(header(inode, mode, nlink, data.length, name.length), 'ascii');
  assert(head.length === 110, 'newc header is 110 bytes');
  return [
    head,
    name,
    Buffer.alloc(pad4(head.length + name.length)),
    Buffer.from(data),
    Buffer.alloc(pad4(data.length)),
  ];
}

/** Serialises `entries` (parents before children) into one newc archive, trailer included. */
export function cpioNewc(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  entries.forEach((entry, index) => {
    const inode = index + 1;
    switch (entry.kind) {
      case 'dir':
        parts.push(...member(inode, 0o040000 | (entry.mode ?? 0o755), 2, entry.path, new Uint8Array()));
        break;
      case 'file':
        parts.push(...member(inode, 0o100000 | (entry.mode ?? 0o644), 1, entry.path, entry.data));
        break;
      case 'symlink':
        parts.push(...member(inode, 0o120777, 1, entry.path, Buffer.from(entry.target)));
        break;
      default:
        assertNever(entry, 'cpio entry');
    }
  });
  parts.push(...member(0, 0, 1, TRAILER, new Uint8Array()));
  const archive = Buffer.concat(parts);
  assert(archive.length % 4 === 0, 'newc archives are 4-byte aligned');
  return archive;
}
