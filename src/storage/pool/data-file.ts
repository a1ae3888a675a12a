// The pool's data file behind a small interface, so tests can swap in a file that loses unsynced writes.
import { open, type FileHandle } from 'node:fs/promises';
import { read, readSync, write, writeSync, fdatasync } from 'node:fs';
import { assert } from '../../base/assert.ts';

/** Positional I/O on the pool's sparse data file. Writes become durable only after `sync()`. */
export interface DataFile {
  /** Reads up to `length` bytes at `position` into `buffer[offset..]`; returns the count (short at EOF). */
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** Optional fast path: reads synchronously and returns the count, or undefined to ask for `read` instead. */
  readNow?(buffer: Buffer, offset: number, length: number, position: number): number | undefined;
  /** Optional fast path: writes completely and synchronously, returning true; false asks for `write` instead. */
  writeNow?(buffer: Buffer, offset: number, length: number, position: number): boolean;
  /** Writes `buffer[offset..offset+length]` at `position`, completely. */
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<void>;
  /** Makes every completed write durable (fdatasync). */
  sync(): Promise<void>;
  /** Sets the file length; used at open to turn extents past the committed high-water mark back into holes. */
  truncate(lengthBytes: number): Promise<void>;
  /** Current file length in bytes. */
  sizeBytes(): Promise<number>;
  /** Closes the file without syncing. */
  close(): Promise<void>;
}

/** Largest I/O `readNow`/`writeNow` do synchronously: bigger copies are better spread over the thread pool. */
const syncBytesMax = 64 * 1024;
/** A synchronous I/O slower than this probably waited for the disk (a page-cache hit takes microseconds). */
const syncSlowMs = 0.5;
/** After a slow synchronous I/O, that direction goes through the thread pool for this long, then tries again. */
const syncBackoffMs = 1000;

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
  #readsAsyncUntil = 0;
  #writesAsyncUntil = 0;

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

  // On 2 cores a thread-pool round trip costs the event loop more than a page-cache pread/pwrite of a few KiB
  // (the woken worker preempts the loop; see docs/nbd.md). An I/O that waits for the disk blocks the loop, so
  // one slow I/O sends that direction back to the thread pool for a while.
  readNow(buffer: Buffer, offset: number, length: number, position: number): number | undefined {
    if (length > syncBytesMax || process.env.XSYNC === '0') return undefined;
    const start = performance.now();
    if (start < this.#readsAsyncUntil) return undefined;
    assert(offset + length <= buffer.length && position >= 0, 'readNow: bad bounds');
    const count = readSync(this.#fd, buffer, offset, length, position);
    const end = performance.now();
    if (end - start > syncSlowMs) this.#readsAsyncUntil = end + syncBackoffMs;
    return count;
  }

  writeNow(buffer: Buffer, offset: number, length: number, position: number): boolean {
    if (length > syncBytesMax || process.env.XSYNC === '0') return false;
    const start = performance.now();
    if (start < this.#writesAsyncUntil) return false;
    assert(offset + length <= buffer.length && position >= 0, 'writeNow: bad bounds');
    for (let done = 0; done < length; )
      done += writeSync(this.#fd, buffer, offset + done, length - done, position + done);
    const end = performance.now();
    if (end - start > syncSlowMs) this.#writesAsyncUntil = end + syncBackoffMs;
    return true;
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
