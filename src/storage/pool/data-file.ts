// The pool's data file behind a small interface, so tests can swap in a file that loses unsynced writes.
import { open, type FileHandle } from 'node:fs/promises';
import { read, write, fdatasync } from 'node:fs';
import { trim } from 'fs-native-extensions';
import { assert } from '../../base/assert.ts';

/** Positional I/O on the pool's sparse data file. Writes become durable only after `sync()`. */
export interface DataFile {
  /** Reads up to `length` bytes at `position` into `buffer[offset..]`; returns the count (short at EOF). */
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** Writes `buffer[offset..offset+length]` at `position`, completely. */
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<void>;
  /** Makes every completed write durable (fdatasync). */
  sync(): Promise<void>;
  /** Gives `[position, position + length)` back to the file system as a hole (reads as zeros afterwards). */
  punch(position: number, length: number): Promise<void>;
  /** Sets the file length; used at open to turn extents past the committed high-water mark back into holes. */
  truncate(lengthBytes: number): Promise<void>;
  /** Current file length in bytes. */
  sizeBytes(): Promise<number>;
  /** Closes the file without syncing. */
  close(): Promise<void>;
}

/** Opens (creating if needed) the real data file, using the callback API on a raw fd (cheapest per I/O). */
export async function openRealDataFile(path: string): Promise<DataFile> {
  const handle = await open(path, 'a+').then(async (h) => {
    await h.close();
    return open(path, 'r+');
  });
  return new RealDataFile(handle);
}

class RealDataFile implements DataFile {
  readonly #handle: FileHandle;
  readonly #fd: number;

  constructor(handle: FileHandle) {
    this.#handle = handle;
    this.#fd = handle.fd;
  }

  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    assert(offset + length <= buffer.length && position >= 0, 'read: bad bounds');
    return new Promise((resolve, reject) => {
      read(this.#fd, buffer, offset, length, position, (error, bytesRead) =>
        error ? reject(error) : resolve(bytesRead),
      );
    });
  }

  async write(buffer: Buffer, offset: number, length: number, position: number): Promise<void> {
    assert(offset + length <= buffer.length && position >= 0, 'write: bad bounds');
    let done = 0;
    while (done < length) {
      done += await new Promise<number>((resolve, reject) => {
        write(this.#fd, buffer, offset + done, length - done, position + done, (error, written) =>
          error ? reject(error) : resolve(written),
        );
      });
    }
  }

  sync(): Promise<void> {
    return new Promise((resolve, reject) =>
      fdatasync(this.#fd, (error) => (error ? reject(error) : resolve())),
    );
  }

  punch(position: number, length: number): Promise<void> {
    assert(position >= 0 && length > 0, 'punch: bad bounds');
    return trim(this.#fd, position, length);
  }

  async truncate(lengthBytes: number): Promise<void> {
    await this.#handle.truncate(lengthBytes);
  }

  async sizeBytes(): Promise<number> {
    return (await this.#handle.stat()).size;
  }

  async close(): Promise<void> {
    await this.#handle.close();
  }
}
