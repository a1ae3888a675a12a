// Which devices read through to an archived snapshot: device id → the snapshot whose manifest fills its
// unfetched chunks. One small JSON file, replaced atomically (write, fsync, rename, fsync the directory).
//
// Crash rule: a record is durable before the device it describes exists, and it is removed only after the
// device no longer needs it (deleted, or hydrated and flushed). A record whose device does not exist is
// harmless and dropped at open. So no crash leaves a device whose unfetched chunks would read as zeros.
import { readFile } from 'node:fs/promises';
import { writeFileDurably } from '../../base/durable-file.ts';

interface FileFormat {
  readonly formatVersion: 1;
  readonly devices: Record<string, string>;
}

/** The persisted device → snapshot map; writes are serialised and each is durable when it resolves. */
export class FillRecords {
  readonly #path: string;
  readonly #devices: Map<string, string>;
  #writing: Promise<void> = Promise.resolve();

  private constructor(path: string, devices: Map<string, string>) {
    this.#path = path;
    this.#devices = devices;
  }

  /** Loads the file at `path` (an absent file is an empty map). */
  static async open(path: string): Promise<FillRecords> {
    const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    });
    if (text === null) return new FillRecords(path, new Map());
    const parsed = JSON.parse(text) as FileFormat;
    if (parsed.formatVersion !== 1)
      throw new Error(`${path}: unknown format ${String(parsed.formatVersion)}`);
    return new FillRecords(path, new Map(Object.entries(parsed.devices)));
  }

  /** The snapshot filling `deviceId`, or undefined. */
  get(deviceId: string): string | undefined {
    return this.#devices.get(deviceId);
  }

  /** Every record, as [device id, snapshot id]. */
  entries(): [string, string][] {
    return [...this.#devices];
  }

  /** Records that `deviceId` fills from `snapshotId`; durable when it resolves. */
  set(deviceId: string, snapshotId: string): Promise<void> {
    this.#devices.set(deviceId, snapshotId);
    return this.#save();
  }

  /** Forgets `deviceIds`; durable when it resolves. */
  delete(...deviceIds: string[]): Promise<void> {
    let changed = false;
    for (const id of deviceIds) changed = this.#devices.delete(id) || changed;
    return changed ? this.#save() : this.#writing;
  }

  // Every save writes the map as it is when the save runs, so the last save always holds the latest state.
  #save(): Promise<void> {
    const next = this.#writing.catch(() => undefined).then(() => this.#write());
    this.#writing = next;
    return next;
  }

  async #write(): Promise<void> {
    const body: FileFormat = { formatVersion: 1, devices: Object.fromEntries(this.#devices) };
    await writeFileDurably(this.#path, JSON.stringify(body));
  }
}
