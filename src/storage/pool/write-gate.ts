// The gate of a lineage: writes count themselves in and out, and a control operation that changes what a
// volume's head means (snapshot, delete) closes the gate and waits for the writes in flight to drain.
import { assert } from '../../base/assert.ts';
import { StoreError } from '../block-store.ts';
import type { Device } from './device.ts';
import type { Lineage } from './lineage.ts';

/** Stops new writes to `lineage` and waits for those in flight; returns the function that reopens it. */
export async function quiesce(lineage: Lineage): Promise<() => void> {
  while (lineage.gate !== null) await lineage.gate;
  let open!: () => void;
  lineage.gate = new Promise<void>((resolve) => (open = resolve));
  if (lineage.writesInFlight > 0) await new Promise<void>((resolve) => (lineage.drained = resolve));
  lineage.drained = null;
  assert(lineage.writesInFlight === 0 && lineage.busy.size === 0, 'quiesce: writes still in flight');
  return () => {
    lineage.gate = null;
    open();
  };
}

/**
 * Counts a write in on its volume; waits (returns a promise) only while a control operation holds the gate.
 * `devices` is the pool's device table: a volume deleted while the write waited is ENOENT.
 */
export function enter(devices: ReadonlyMap<string, Device>, device: Device): Promise<void> | undefined {
  if (device.lineage.gate === null) {
    device.lineage.writesInFlight++;
    return undefined;
  }
  return enterLater(devices, device);
}

async function enterLater(devices: ReadonlyMap<string, Device>, device: Device): Promise<void> {
  const lineage = device.lineage;
  while (lineage.gate !== null) await lineage.gate;
  if (devices.get(device.id) !== device) throw new StoreError('ENOENT', `no device ${device.id}`);
  lineage.writesInFlight++;
}

/** Counts a write out; the last one out wakes a control operation waiting to quiesce. */
export function leave(device: Device): void {
  const lineage = device.lineage;
  lineage.writesInFlight--;
  assert(lineage.writesInFlight >= 0, 'leave: negative writes in flight');
  if (lineage.writesInFlight === 0 && lineage.drained !== null) lineage.drained();
}
