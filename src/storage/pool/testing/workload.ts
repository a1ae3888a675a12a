// A seeded random workload over the BlockStore and a plain in-memory model of it, shared by the model,
// crash and power-loss tests (and the crash worker child).
import { assertNever } from '../../../base/assert.ts';
import { seededRandom } from '../../../base/prng.ts';
import type { BlockStore } from '../../block-store.ts';

/** The seeded PRNG (src/base/prng.ts) with the draws the workload needs. */
export class Rng {
  readonly #next: () => number;

  constructor(seed: number) {
    this.#next = seededRandom(seed);
  }

  /** A float in [0, 1). */
  next(): number {
    return this.#next();
  }

  /** An integer in [low, high]. */
  int(low: number, high: number): number {
    return low + Math.floor(this.next() * (high - low + 1));
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }
}

/** One operation of the workload. */
export type Op =
  | { type: 'create'; id: string; size: number }
  | { type: 'write'; id: string; offset: number; length: number; fill: number; fua: boolean }
  | { type: 'trim'; id: string; offset: number; length: number }
  | { type: 'zero'; id: string; offset: number; length: number }
  | { type: 'read'; id: string; offset: number; length: number }
  | { type: 'snapshot'; volumeId: string; id: string }
  | { type: 'clone'; snapshotId: string; id: string; size: number }
  | { type: 'resize'; id: string; size: number }
  | { type: 'deleteVolume'; id: string }
  | { type: 'deleteSnapshot'; id: string }
  | { type: 'flush' };

/** Shape of a workload: device sizes and counts, tuned to the pool's extent size. */
export interface WorkloadShape {
  readonly extentBytes: number;
  readonly volumeBytesMax: number;
  readonly devicesMax: number;
}

/** What the model holds of one device. */
export interface ModelDevice {
  readonly kind: 'volume' | 'snapshot';
  data: Buffer;
}

/** The plain in-memory model: every device's full contents. */
export class Model {
  readonly devices = new Map<string, ModelDevice>();

  /** A deep copy. */
  copy(): Model {
    const copy = new Model();
    for (const [id, device] of this.devices)
      copy.devices.set(id, { kind: device.kind, data: Buffer.from(device.data) });
    return copy;
  }

  /** Ids of one kind, in insertion order. */
  ids(kind: 'volume' | 'snapshot'): string[] {
    return [...this.devices].filter(([, d]) => d.kind === kind).map(([id]) => id);
  }
}

/** Deterministic content of a write. */
export function content(fill: number, length: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  let x = fill | 1;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    buffer[i] = x >>> 24;
  }
  return buffer;
}

/** Picks the next operation from the model's state. Ids are `<tag>-<index>` so they never collide. */
export function nextOp(rng: Rng, model: Model, shape: WorkloadShape, tag: string, index: number): Op {
  const volumes = model.ids('volume');
  const snapshots = model.ids('snapshot');
  const full = model.devices.size >= shape.devicesMax;
  const newId = (prefix: string) => `${prefix}-${tag}-${index}`;
  const roll = rng.int(0, 99);
  if (volumes.length === 0 || (roll < 4 && !full)) {
    return { type: 'create', id: newId('vol'), size: 512 * rng.int(1, shape.volumeBytesMax / 512) };
  }
  const volume = rng.pick(volumes);
  if (roll < 40)
    return {
      type: 'write',
      id: volume,
      ...range(rng, model, volume, shape),
      fill: rng.int(1, 2 ** 30),
      fua: rng.int(0, 19) === 0,
    };
  if (roll < 52) {
    const id = rng.pick([...volumes, ...snapshots]);
    return { type: 'read', id, ...range(rng, model, id, shape) };
  }
  if (roll < 60) return { type: 'trim', id: volume, ...range(rng, model, volume, shape) };
  if (roll < 64) return { type: 'zero', id: volume, ...range(rng, model, volume, shape) };
  if (roll < 71 && !full) return { type: 'snapshot', volumeId: volume, id: newId('snap') };
  if (roll < 77 && !full && snapshots.length > 0) {
    const snapshotId = rng.pick(snapshots);
    const size = model.devices.get(snapshotId)!.data.length + 512 * rng.pick([0, 0, rng.int(1, 64)]);
    return { type: 'clone', snapshotId, id: newId('vol'), size };
  }
  if (roll < 79)
    return {
      type: 'resize',
      id: volume,
      size: model.devices.get(volume)!.data.length + 512 * rng.int(0, 32),
    };
  if (roll < 84 || (full && roll < 92 && snapshots.length === 0)) return { type: 'deleteVolume', id: volume };
  if (roll < 92 && snapshots.length > 0) return { type: 'deleteSnapshot', id: rng.pick(snapshots) };
  return { type: 'flush' };
}

function range(rng: Rng, model: Model, id: string, shape: WorkloadShape): { offset: number; length: number } {
  const size = model.devices.get(id)!.data.length;
  const extent = shape.extentBytes;
  if (rng.int(0, 2) === 0 && size >= extent) {
    const blocks = Math.floor(size / extent);
    const first = rng.int(0, blocks - 1);
    return { offset: first * extent, length: extent * rng.int(1, Math.min(3, blocks - first)) };
  }
  const offset = rng.int(0, size - 1);
  return { offset, length: rng.int(1, Math.min(size - offset, 3 * extent + 777)) };
}

/** Applies `op` to the model. */
export function applyToModel(model: Model, op: Op): void {
  const data = (id: string) => model.devices.get(id)!.data;
  switch (op.type) {
    case 'create':
      model.devices.set(op.id, { kind: 'volume', data: Buffer.alloc(op.size) });
      return;
    case 'write':
      content(op.fill, op.length).copy(data(op.id), op.offset);
      return;
    case 'trim':
    case 'zero':
      data(op.id).fill(0, op.offset, op.offset + op.length);
      return;
    case 'snapshot':
      model.devices.set(op.id, { kind: 'snapshot', data: Buffer.from(data(op.volumeId)) });
      return;
    case 'clone': {
      const grown = Buffer.alloc(op.size);
      data(op.snapshotId).copy(grown);
      model.devices.set(op.id, { kind: 'volume', data: grown });
      return;
    }
    case 'resize': {
      const grown = Buffer.alloc(op.size);
      data(op.id).copy(grown);
      model.devices.get(op.id)!.data = grown;
      return;
    }
    case 'deleteVolume':
    case 'deleteSnapshot':
      model.devices.delete(op.id);
      return;
    case 'read':
    case 'flush':
      return;
    default:
      assertNever(op, 'op');
  }
}

/** Applies `op` to the store; a read is checked against `model` (the state before the op). */
export async function applyToStore(store: BlockStore, op: Op, model: Model): Promise<void> {
  switch (op.type) {
    case 'create':
      return store.createVolume(op.id, op.size);
    case 'write':
      return store.write(op.id, op.offset, content(op.fill, op.length), { fua: op.fua });
    case 'trim':
      return store.trim(op.id, op.offset, op.length);
    case 'zero':
      return store.writeZeroes(op.id, op.offset, op.length, { noHole: true });
    case 'read': {
      const got = await store.read(op.id, op.offset, op.length);
      const expected = model.devices.get(op.id)!.data.subarray(op.offset, op.offset + op.length);
      if (!got.equals(expected))
        throw new Error(`read ${op.id} [${op.offset}, +${op.length}) differs from the model`);
      return;
    }
    case 'snapshot':
      return store.snapshot(op.volumeId, op.id);
    case 'clone':
      return store.clone(op.snapshotId, op.id, op.size);
    case 'resize':
      return store.resizeVolume(op.id, op.size);
    case 'deleteVolume':
      return store.deleteVolume(op.id);
    case 'deleteSnapshot':
      return store.deleteSnapshot(op.id);
    case 'flush':
      return store.flush();
    default:
      assertNever(op, 'op');
  }
}

/** Reads every device of the store into a model (sorted by id, so two readers build identical models). */
export async function modelFromStore(store: BlockStore): Promise<Model> {
  const model = new Model();
  const devices = store.devices().sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const device of devices) {
    model.devices.set(device.id, {
      kind: device.kind,
      data: await store.read(device.id, 0, device.sizeBytes),
    });
  }
  return model;
}

/**
 * Checks a store reopened after a crash against the model versions the crash window allows: `versions[0]` is
 * the state at the last completed flush, later entries the states after each op that may have run since.
 * Returns the problems found (empty when the store is acceptable).
 */
export async function checkAfterCrash(store: BlockStore, versions: readonly Model[]): Promise<string[]> {
  const problems: string[] = [];
  const ids = store
    .devices()
    .map((d) => d.id)
    .sort();
  const sameSet = versions.some((v) => v.devices.size === ids.length && ids.every((id) => v.devices.has(id)));
  if (!sameSet) problems.push(`device set ${ids.join(',')} matches no state in the crash window`);
  for (const id of ids) {
    const actual = await store.read(id, 0, store.device(id)!.sizeBytes);
    const candidates = versions.map((v) => v.devices.get(id)).filter((d) => d !== undefined);
    if (candidates.length === 0) continue;
    if (candidates[0]!.kind === 'snapshot') {
      if (!candidates.some((c) => c.data.equals(actual))) problems.push(`snapshot ${id} changed`);
      continue;
    }
    const bad = firstUnexplainedByte(
      actual,
      candidates.map((c) => c.data),
    );
    if (bad !== -1) problems.push(`volume ${id}: byte ${bad} is ${actual[bad]}, matching no allowed state`);
  }
  return problems;
}

function firstUnexplainedByte(actual: Buffer, allowed: readonly Buffer[]): number {
  if (allowed.some((a) => a.length === actual.length && a.equals(actual))) return -1;
  const chunk = 512;
  for (let start = 0; start < actual.length; start += chunk) {
    const end = Math.min(actual.length, start + chunk);
    const slice = actual.subarray(start, end);
    if (allowed.some((a) => a.length >= end && a.subarray(start, end).equals(slice))) continue;
    for (let i = start; i < end; i++) if (!allowed.some((a) => (a[i] ?? 0) === actual[i])) return i;
  }
  return -1;
}

/** Checks mapRange and diff against the model: holes read as zeros, and no changed extent is missed. */
export function checkMaps(store: BlockStore, model: Model): string[] {
  const problems: string[] = [];
  const extentBytes = store.extentBytes;
  for (const [id, device] of model.devices) {
    const size = device.data.length;
    let position = 0;
    for (const range of store.mapRange(id, 0, size)) {
      if (range.offset !== position) problems.push(`${id}: mapRange gap at ${position}`);
      position = range.offset + range.length;
      const bytes = device.data.subarray(range.offset, position);
      if (!range.allocated && !bytes.equals(Buffer.alloc(bytes.length)))
        problems.push(`${id}: hole at ${range.offset} holds data`);
    }
    if (position !== size) problems.push(`${id}: mapRange covers ${position} of ${size} bytes`);
    const parentId = store.device(id)?.parentId ?? null;
    const pairs: [string | null, Buffer][] = [[null, Buffer.alloc(size)]];
    if (parentId !== null && model.devices.has(parentId))
      pairs.push([parentId, model.devices.get(parentId)!.data]);
    for (const [from, fromData] of pairs) {
      const changed = new Set<number>();
      for (const r of store.diff(from, id)) {
        for (let b = Math.floor(r.offset / extentBytes); b * extentBytes < r.offset + r.length; b++)
          changed.add(b);
      }
      for (let block = 0; block * extentBytes < size; block++) {
        if (changed.has(block)) continue;
        const start = block * extentBytes;
        const end = Math.min(size, start + extentBytes);
        const a = device.data.subarray(start, end);
        const b = Buffer.alloc(end - start);
        if (start < fromData.length) fromData.copy(b, 0, start, Math.min(end, fromData.length));
        if (!a.equals(b)) problems.push(`${id}: diff from ${from} misses block ${block}`);
      }
    }
  }
  return problems;
}
