// Which export names open which devices: volumes read-write, snapshots read-only, and attachment locks.
import { createHmac } from 'node:crypto';
import { assert } from '../base/assert.ts';
import type { BlockStore, DeviceInfo } from '../storage/block-store.ts';
import { ExportLockError } from './nbd-server.ts';

/** An export a client may open. */
export interface ResolvedExport {
  readonly device: DeviceInfo;
  readonly exportName: string;
  readonly readOnly: boolean;
  /** One line for NBD_INFO_DESCRIPTION and NBD_OPT_LIST. */
  readonly description: string;
}

/** Why an export name does not open: `unknown` (no such device) or `policy` (locked by an attachment). */
export type ResolveFailure = { readonly reason: 'unknown' | 'policy'; readonly message: string };

/** An attachment lock: only `secretExportName` opens the volume while it holds. */
export interface AttachmentLock {
  readonly volumeId: string;
  readonly owner: string;
  readonly secretExportName: string;
}

const SECRET_SEPARATOR = '.attachment-';

/** The export namespace over one block store. */
export class ExportRegistry {
  readonly #store: BlockStore;
  readonly #attachmentKey: Buffer;
  readonly #locksByVolume = new Map<string, AttachmentLock>();
  readonly #locksBySecret = new Map<string, AttachmentLock>();

  /** `attachmentKey` derives secret export names, so the same key gives the same name to the same owner. */
  constructor(store: BlockStore, attachmentKey: Buffer) {
    assert(attachmentKey.length >= 16, 'attachment key must be at least 128 bits');
    this.#store = store;
    this.#attachmentKey = attachmentKey;
  }

  /**
   * Resolves an export name to a device, or says why it does not open. With `allowed`, a device outside it
   * is reported exactly as a missing one, so a client cannot probe for other accounts' ids.
   */
  resolve(exportName: string, allowed?: ReadonlySet<string>): ResolvedExport | ResolveFailure {
    const lock = this.#locksBySecret.get(exportName);
    const deviceId = lock ? lock.volumeId : exportName;
    const found = this.#store.device(deviceId);
    const device =
      found !== undefined && (allowed === undefined || allowed.has(found.id)) ? found : undefined;
    if (!device)
      return { reason: 'unknown', message: `no volume or snapshot named "${truncate(exportName)}"` };
    const held = this.#locksByVolume.get(device.id);
    if (held && !lock) {
      return {
        reason: 'policy',
        message: `volume ${device.id} is attached to ${held.owner}; only that instance's QEMU may open it`,
      };
    }
    const readOnly = device.kind === 'snapshot';
    return { device, exportName, readOnly, description: describe(device, held?.owner) };
  }

  /** Every device by its plain id, or those in `allowed` (secret names are never listed). */
  list(allowed?: ReadonlySet<string>): { name: string; description: string }[] {
    const devices = this.#store.devices();
    const visible = allowed === undefined ? devices : devices.filter((device) => allowed.has(device.id));
    return visible.map((device) => ({
      name: device.id,
      description: describe(device, this.#locksByVolume.get(device.id)?.owner),
    }));
  }

  /** Locks a volume to one owner; returns the existing lock if the same owner asks again. */
  lock(volumeId: string, owner: string): AttachmentLock {
    assert(owner.length > 0, 'lock: empty owner');
    const device = this.#store.device(volumeId);
    if (!device) throw new ExportLockError('ENOENT', `no volume ${volumeId}`);
    if (device.kind !== 'volume')
      throw new ExportLockError('EINVAL', `${volumeId} is a ${device.kind}, not a volume`);
    const held = this.#locksByVolume.get(volumeId);
    if (held) {
      if (held.owner === owner) return held;
      throw new ExportLockError('EBUSY', `volume ${volumeId} is already attached to ${held.owner}`);
    }
    // Derived, not random: a daemon restarted with the same key hands a re-adopted QEMU back its name.
    const secret = createHmac('sha256', this.#attachmentKey).update(`${volumeId}\n${owner}`).digest('hex');
    const secretExportName = `${volumeId}${SECRET_SEPARATOR}${secret.slice(0, 32)}`;
    const lock: AttachmentLock = { volumeId, owner, secretExportName };
    this.#locksByVolume.set(volumeId, lock);
    this.#locksBySecret.set(secretExportName, lock);
    return lock;
  }

  /** Drops a volume's lock; returns the lock that was held, if any. */
  unlock(volumeId: string): AttachmentLock | undefined {
    const held = this.#locksByVolume.get(volumeId);
    if (!held) return undefined;
    this.#locksByVolume.delete(volumeId);
    this.#locksBySecret.delete(held.secretExportName);
    assert(!this.#locksBySecret.has(held.secretExportName), 'unlock: secret still registered');
    return held;
  }

  /** The lock on a volume, if any. */
  lockOf(volumeId: string): AttachmentLock | undefined {
    return this.#locksByVolume.get(volumeId);
  }
}

function describe(device: DeviceInfo, owner: string | undefined): string {
  const of = device.parentId ? ` of ${device.parentId}` : '';
  const attached = owner ? `, attached to ${owner}` : '';
  const access = device.kind === 'snapshot' ? 'read-only' : 'read-write';
  return `${device.kind}${of}, ${device.sizeBytes} bytes, ${access}${attached}`;
}

function truncate(name: string): string {
  return name.length > 80 ? `${name.slice(0, 80)}…` : name;
}
