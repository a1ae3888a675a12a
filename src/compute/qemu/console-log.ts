// The serial console: QEMU serves it on a unix socket; we append what it prints to console.log and keep the
// file bounded (at most twice limits.consoleBytesMax on disk; GetConsoleOutput returns the last consoleBytesMax).
import { closeSync, fstatSync, openSync, readSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { assert } from '../../base/assert.ts';
import { limits } from '../../base/limits.ts';

/** Reads the last `limits.consoleBytesMax` bytes of a console log; '' when it does not exist. */
export async function readConsoleTail(path: string): Promise<string> {
  let file;
  try {
    file = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
  try {
    const { size } = await file.stat();
    const length = Math.min(size, limits.consoleBytesMax);
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await file.read(buffer, 0, length, size - length);
    assert(bytesRead === length, 'console log shrank while read');
    return buffer.toString('utf8');
  } finally {
    await file.close();
  }
}

function tailOfFile(fd: number, size: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  const bytesRead = readSync(fd, buffer, 0, length, size - length);
  assert(bytesRead === length, 'console tail read short');
  return buffer;
}

/** Follows QEMU's console socket into a bounded log file until the socket closes (QEMU exits) or close(). */
export class ConsoleLog {
  readonly #path: string;
  readonly #socket: Socket;
  #fd: number;

  private constructor(path: string, socket: Socket) {
    this.#path = path;
    this.#socket = socket;
    this.#fd = openSync(path, 'a+');
    socket.on('data', (chunk: Buffer) => this.#append(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#closeFile());
  }

  /** Connects to QEMU's console socket; resolves once connected. */
  static connect(socketPath: string, logPath: string): Promise<ConsoleLog> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(socketPath);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new ConsoleLog(logPath, socket));
      });
    });
  }

  /** Stops following; the log file stays. */
  close(): void {
    this.#socket.destroy();
    this.#closeFile();
  }

  #append(chunk: Buffer): void {
    if (this.#fd < 0) return;
    writeSync(this.#fd, chunk);
    const { size } = fstatSync(this.#fd);
    if (size <= 2 * limits.consoleBytesMax) return;
    // Rotate: keep the newest consoleBytesMax bytes, atomically replacing the file.
    const tail = tailOfFile(this.#fd, size, limits.consoleBytesMax);
    closeSync(this.#fd);
    writeFileSync(`${this.#path}.new`, tail);
    renameSync(`${this.#path}.new`, this.#path);
    this.#fd = openSync(this.#path, 'a+');
  }

  #closeFile(): void {
    if (this.#fd < 0) return;
    closeSync(this.#fd);
    this.#fd = -1;
  }
}
