// A device in memory (a view of a lineage) and the checks and records every part of the pool shares.
import { limits } from '../../base/limits.ts';
import { StoreError, type DeviceInfo } from '../block-store.ts';
import type { Lineage } from './lineage.ts';
import type { DeviceRecord, LineageRecord } from './meta-db.ts';

/** A device in memory: a view (lineage, gen) where a volume's gen is Infinity (the head). */
export interface Device {
  readonly id: string;
  readonly kind: 'volume' | 'snapshot';
  readonly lineage: Lineage;
  readonly gen: number;
  sizeBytes: number;
  readonly parentId: string | null;
}

/** Throws EINVAL unless [offset, offset + length) lies inside the device. */
export function checkRange(device: Device, offset: number, length: number): void {
  const ok = Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0;
  if (!ok || offset + length > device.sizeBytes) {
    throw new StoreError(
      'EINVAL',
      `range [${offset}, +${length}) is outside ${device.id} (${device.sizeBytes} bytes)`,
    );
  }
}

/** Throws EINVAL unless `sizeBytes` is a valid device size. */
export function checkSize(sizeBytes: number): void {
  const max = limits.volumeGiBMax * 1024 * 1024 * 1024;
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % 512 !== 0 || sizeBytes > max) {
    throw new StoreError('EINVAL', `size must be a positive multiple of 512 up to ${max}: got ${sizeBytes}`);
  }
}

/** The public view of a device. */
export function info(device: Device): DeviceInfo {
  return { id: device.id, kind: device.kind, sizeBytes: device.sizeBytes, parentId: device.parentId };
}

/** The metadata row of a device. */
export function record(device: Device): DeviceRecord {
  const gen = device.kind === 'volume' ? null : device.gen;
  return { ...info(device), lineage: device.lineage.id, gen };
}

/** The metadata row of a lineage. */
export function lineageRecord(lineage: Lineage): LineageRecord {
  const parent = lineage.parent;
  return {
    id: lineage.id,
    gen: lineage.gen,
    parentLineage: parent?.lineage.id ?? null,
    parentGen: parent?.gen ?? null,
    parentBytes: parent?.bytes ?? null,
  };
}
