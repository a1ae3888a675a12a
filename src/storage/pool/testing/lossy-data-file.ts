// A DataFile for power-loss tests: writes since the last sync live in an overlay a "power cut" may drop.
import type { DataFile } from '../data-file.ts';
import { assert } from '../../../base/assert.ts';

interface PendingWrite {
  readonly position: number;
  readonly bytes: Buffer;
}

/** Wraps a real DataFile; unsynced writes reach it only on `sync()` or, partly, on `powerCut()`. */
export class LossyDataFile implements DataFile {
  readonly #inner: DataFile;
  #pending: PendingWrite[] = [];
  #cut = false;

  constructor(inner: DataFile) {
    this.#inner = inner;
  }

  async read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    assert(!this.#cut, 'read after power cut');
    const count = await this.#inner.read(buffer, offset, length, position);
    if (count < length) buffer.fill(0, offset + count, offset + length);
    let end = position + count;
    for (const pending of this.#pending) {
      const from = Math.max(position, pending.position);
      const to = Math.min(position + length, pending.position + pending.bytes.length);
      if (from >= to) continue;
      pending.bytes.copy(buffer, offset + from - position, from - pending.position, to - pending.position);
      end = Math.max(end, to);
    }
    return end - position;
  }

  async write(buffer: Buffer, offset: number, length: number, position: number): Promise<void> {
    assert(!this.#cut, 'write after power cut');
    this.#pending.push({ position, bytes: Buffer.from(buffer.subarray(offset, offset + length)) });
  }

  async sync(): Promise<void> {
    // Writes stay visible in the overlay until they reached the inner file: reads may run meanwhile.
    const count = this.#pending.length;
    for (const write of this.#pending.slice(0, count)) {
      await this.#inner.write(write.bytes, 0, write.bytes.length, write.position);
    }
    this.#pending.splice(0, count);
    await this.#inner.sync();
  }

  async punch(position: number, length: number): Promise<void> {
    // Only durably freed extents are punched: the commit that freed them synced the overlay already.
    assert(!this.#cut, 'punch after power cut');
    await this.#inner.punch(position, length);
  }

  async truncate(lengthBytes: number): Promise<void> {
    await this.sync();
    await this.#inner.truncate(lengthBytes);
  }

  async sizeBytes(): Promise<number> {
    const end = this.#pending.reduce((max, w) => Math.max(max, w.position + w.bytes.length), 0);
    return Math.max(end, await this.#inner.sizeBytes());
  }

  /** Simulates power loss: keeps each unsynced write with probability `keep()` (in order), drops the rest. */
  async powerCut(keep: () => boolean): Promise<{ kept: number; dropped: number }> {
    this.#cut = true;
    const pending = this.#pending;
    this.#pending = [];
    let kept = 0;
    for (const write of pending) {
      if (!keep()) continue;
      kept++;
      await this.#inner.write(write.bytes, 0, write.bytes.length, write.position);
    }
    await this.#inner.close();
    return { kept, dropped: pending.length - kept };
  }

  async close(): Promise<void> {
    await this.sync();
    await this.#inner.close();
  }
}
