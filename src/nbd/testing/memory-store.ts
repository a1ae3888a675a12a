// TEST-ONLY: an in-memory BlockStore with copy-on-write snapshots, for NBD protocol tests and fuzzing.
// It keeps the interface's semantics (holes, read-only snapshots, removal events), not its durability.
import { assert } from '../../base/assert.ts';
import { StoreError } from '../../storage/block-store.ts';
import type {
  BlockStore,
  DeviceInfo,
  DeviceUsage,
  MappedRange,
  PoolUsage,
  WriteOptions,
  ZeroOptions,
} from '../../storage/block-store.ts';

interface Device {
  info: DeviceInfo;
  extents: Map<number, Buffer>;
  // Extents this device may modify in place; the rest are shared with a snapshot and copied first.
  owned: Set<number>;
}

/** A BlockStore held in memory; `flushes` counts flush() calls so tests can see FLUSH arrive. */
export class MemoryBlockStore implements BlockStore {
  readonly extentBytes: number;
  flushes = 0;
  readonly #devices = new Map<string, Device>();
  readonly #listeners = new Set<(id: string) => void>();

  constructor(extentBytes = 64 * 1024) {
    assert(extentBytes > 0 && extentBytes % 512 === 0, 'extent size');
    this.extentBytes = extentBytes;
  }

  usage(): PoolUsage {
    let extents = 0;
    for (const device of this.#devices.values()) extents += device.owned.size;
    const usedBytes = extents * this.extentBytes;
    const capacityBytes = 2 ** 50;
    return {
      extentBytes: this.extentBytes,
      capacityBytes,
      usedBytes,
      pendingFreeBytes: 0,
      availableBytes: capacityBytes - usedBytes,
    };
  }
  async grow(): Promise<void> {}
  device(id: string): DeviceInfo | undefined {
    return this.#devices.get(id)?.info;
  }
  devices(): DeviceInfo[] {
    return [...this.#devices.values()].map((device) => device.info);
  }
  async createVolume(id: string, sizeBytes: number): Promise<void> {
    this.#add({ id, kind: 'volume', sizeBytes, parentId: null }, new Map());
  }
  async resizeVolume(id: string, sizeBytes: number): Promise<void> {
    const device = this.#get(id, true);
    if (sizeBytes < device.info.sizeBytes) throw new StoreError('EINVAL', 'shrink');
    device.info = { ...device.info, sizeBytes };
  }
  async deleteVolume(id: string): Promise<void> {
    this.#get(id, true);
    this.#remove(id);
  }
  async snapshot(volumeId: string, snapshotId: string): Promise<void> {
    const volume = this.#get(volumeId, true);
    volume.owned.clear();
    this.#add(
      { id: snapshotId, kind: 'snapshot', sizeBytes: volume.info.sizeBytes, parentId: volumeId },
      volume.extents,
    );
  }
  async clone(snapshotId: string, volumeId: string, sizeBytes?: number): Promise<void> {
    const snapshot = this.#get(snapshotId, false);
    const size = sizeBytes ?? snapshot.info.sizeBytes;
    this.#add({ id: volumeId, kind: 'volume', sizeBytes: size, parentId: snapshotId }, snapshot.extents);
  }
  async deleteSnapshot(id: string): Promise<void> {
    this.#get(id, false);
    this.#remove(id);
  }

  async read(id: string, offset: number, length: number): Promise<Buffer> {
    const out = Buffer.alloc(length);
    await this.readInto(id, offset, out);
    return out;
  }
  async readInto(id: string, offset: number, out: Buffer): Promise<void> {
    const device = this.#get(id, false);
    this.#check(device, offset, out.length);
    out.fill(0);
    this.#walk(offset, out.length, (index, within, at, span) => {
      device.extents.get(index)?.copy(out, at, within, within + span);
    });
  }
  async write(id: string, offset: number, data: Buffer, _options?: WriteOptions): Promise<void> {
    const device = this.#writable(id, offset, data.length);
    this.#walk(offset, data.length, (index, within, at, span) => {
      data.copy(this.#extentForWrite(device, index), within, at, at + span);
    });
  }
  async trim(id: string, offset: number, length: number, _options?: WriteOptions): Promise<void> {
    this.#zero(this.#writable(id, offset, length), offset, length, false);
  }
  async writeZeroes(id: string, offset: number, length: number, options?: ZeroOptions): Promise<void> {
    this.#zero(this.#writable(id, offset, length), offset, length, options?.noHole === true);
  }
  async flush(): Promise<void> {
    this.flushes++;
  }

  mapRange(id: string, offset: number, length: number): MappedRange[] {
    const device = this.#get(id, false);
    this.#check(device, offset, length);
    const ranges: MappedRange[] = [];
    this.#walk(offset, length, (index, _within, at, span) => {
      const allocated = device.extents.has(index);
      const last = ranges[ranges.length - 1];
      if (last && last.allocated === allocated)
        ranges[ranges.length - 1] = { ...last, length: last.length + span };
      else ranges.push({ offset: offset + at, length: span, allocated });
    });
    return ranges;
  }
  diff(_fromId: string | null, toId: string): MappedRange[] {
    const device = this.#get(toId, false);
    return this.mapRange(toId, 0, device.info.sizeBytes).filter((range) => range.allocated);
  }
  deviceUsage(id: string): DeviceUsage {
    const device = this.#get(id, false);
    return {
      mappedBytes: device.extents.size * this.extentBytes,
      ownedBytes: device.owned.size * this.extentBytes,
    };
  }
  onDeviceRemoved(listener: (id: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  async close(): Promise<void> {}

  #add(info: DeviceInfo, shared: Map<number, Buffer>): void {
    if (this.#devices.has(info.id)) throw new StoreError('EEXIST', `${info.id} exists`);
    this.#devices.set(info.id, { info, extents: new Map(shared), owned: new Set() });
  }
  #remove(id: string): void {
    this.#devices.delete(id);
    for (const listener of this.#listeners) listener(id);
  }
  #get(id: string, volumeOnly: boolean): Device {
    const device = this.#devices.get(id);
    if (!device) throw new StoreError('ENOENT', `no device ${id}`);
    if (volumeOnly && device.info.kind !== 'volume') throw new StoreError('EROFS', `${id} is a snapshot`);
    return device;
  }
  #writable(id: string, offset: number, length: number): Device {
    const device = this.#get(id, true);
    this.#check(device, offset, length);
    return device;
  }
  #check(device: Device, offset: number, length: number): void {
    if (offset < 0 || length < 0 || offset + length > device.info.sizeBytes) {
      throw new StoreError('EINVAL', `range ${offset}+${length} past ${device.info.sizeBytes}`);
    }
  }
  #extentForWrite(device: Device, index: number): Buffer {
    const existing = device.extents.get(index);
    if (existing && device.owned.has(index)) return existing;
    const fresh = Buffer.alloc(this.extentBytes);
    existing?.copy(fresh);
    device.extents.set(index, fresh);
    device.owned.add(index);
    return fresh;
  }
  #zero(device: Device, offset: number, length: number, noHole: boolean): void {
    this.#walk(offset, length, (index, within, _at, span) => {
      if (!noHole && span === this.extentBytes) {
        device.extents.delete(index);
        device.owned.delete(index);
      } else if (noHole || device.extents.has(index)) {
        this.#extentForWrite(device, index).fill(0, within, within + span);
      }
    });
  }
  // Calls `visit` for each extent piece of [offset, offset+length): extent index, offset in it, offset in the request, bytes.
  #walk(
    offset: number,
    length: number,
    visit: (index: number, within: number, at: number, span: number) => void,
  ): void {
    for (let at = 0; at < length;) {
      const index = Math.floor((offset + at) / this.extentBytes);
      const within = (offset + at) % this.extentBytes;
      const span = Math.min(this.extentBytes - within, length - at);
      visit(index, within, at, span);
      at += span;
    }
  }
}
