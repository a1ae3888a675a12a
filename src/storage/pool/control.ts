// Control operations: create, resize, snapshot, clone and delete devices. They run one at a time (the pool's
// control chain) and are durable when they resolve; snapshot and delete quiesce the volume's writes first.
import { assert } from '../../base/assert.ts';
import { StoreError } from '../block-store.ts';
import { checkSize, lineageRecord, record, type Device } from './device.ts';
import { Lineage } from './lineage.ts';
import type { PoolCore } from './pool-core.ts';
import { quiesce } from './write-gate.ts';

/** Runs control operations one at a time. */
export function exclusive<T>(core: PoolCore, operation: () => Promise<T>): Promise<T> {
  core.checkOpen();
  const result = core.control.then(operation);
  core.control = result.then(
    () => undefined,
    () => undefined,
  );
  return result;
}

/** Creates an empty volume `id` of `sizeBytes`. */
export async function createVolume(core: PoolCore, id: string, sizeBytes: number): Promise<void> {
  checkSize(sizeBytes);
  await exclusive(core, async () => {
    checkFree(core, id);
    await needMetadataRoom(core);
    const lineage = newLineage(core, null);
    lineage.volumeId = id;
    addDevice(core, { id, kind: 'volume', lineage, gen: Infinity, sizeBytes, parentId: null });
    await core.commit();
  });
}

/** Grows volume `id` to `sizeBytes` (volumes never shrink). */
export async function resizeVolume(core: PoolCore, id: string, sizeBytes: number): Promise<void> {
  checkSize(sizeBytes);
  await exclusive(core, async () => {
    const device = core.volume(id);
    if (sizeBytes < device.sizeBytes) {
      throw new StoreError(
        'EINVAL',
        `volumes only grow: ${id} has ${device.sizeBytes} bytes, asked ${sizeBytes}`,
      );
    }
    device.sizeBytes = sizeBytes;
    core.commits.batch.devices.set(id, record(device));
    await core.commit();
  });
}

/** Deletes volume `id` once its writes in flight drained; its extents are reclaimed in the background. */
export async function deleteVolume(core: PoolCore, id: string): Promise<void> {
  await exclusive(core, async () => {
    const device = core.volume(id);
    const lineage = device.lineage;
    const open = await quiesce(lineage);
    try {
      lineage.volumeId = null;
      core.devices.delete(id);
      core.commits.batch.devices.set(id, null);
      await core.commit();
    } finally {
      open();
    }
    removed(core, id, lineage);
  });
}

/** Freezes volume `volumeId`'s current contents as snapshot `snapshotId` (a new generation of its lineage). */
export async function snapshot(core: PoolCore, volumeId: string, snapshotId: string): Promise<void> {
  await exclusive(core, async () => {
    const volume = core.volume(volumeId);
    checkFree(core, snapshotId);
    await needMetadataRoom(core);
    const lineage = volume.lineage;
    const open = await quiesce(lineage);
    try {
      const gen = lineage.gen;
      lineage.gen = gen + 1;
      lineage.snapshots.set(gen, snapshotId);
      lineage.invalidateViews();
      core.commits.batch.lineages.set(lineage.id, lineageRecord(lineage));
      const sizeBytes = volume.sizeBytes;
      addDevice(core, { id: snapshotId, kind: 'snapshot', lineage, gen, sizeBytes, parentId: volumeId });
      await core.commit();
    } finally {
      open();
    }
  });
}

/** Makes volume `volumeId` a copy-on-write child of snapshot `snapshotId`, at least as large. */
export async function clone(
  core: PoolCore,
  snapshotId: string,
  volumeId: string,
  sizeBytes?: number,
): Promise<void> {
  await exclusive(core, async () => {
    const snapshot = core.snapshotDevice(snapshotId);
    const size = sizeBytes ?? snapshot.sizeBytes;
    checkSize(size);
    if (size < snapshot.sizeBytes) {
      throw new StoreError('EINVAL', `clone must be at least ${snapshot.sizeBytes} bytes: asked ${size}`);
    }
    checkFree(core, volumeId);
    await needMetadataRoom(core);
    const bytes = snapshot.sizeBytes;
    const parent = {
      lineage: snapshot.lineage,
      gen: snapshot.gen,
      bytes,
      blocks: Math.ceil(bytes / core.extentBytes),
    };
    const lineage = newLineage(core, parent);
    lineage.volumeId = volumeId;
    snapshot.lineage.children.add(lineage);
    snapshot.lineage.invalidateViews();
    const device: Device = {
      id: volumeId,
      kind: 'volume',
      lineage,
      gen: Infinity,
      sizeBytes: size,
      parentId: snapshotId,
    };
    addDevice(core, device);
    await core.commit();
  });
}

/** Deletes snapshot `id`; what only it kept alive is reclaimed in the background. */
export async function deleteSnapshot(core: PoolCore, id: string): Promise<void> {
  await exclusive(core, async () => {
    const device = core.snapshotDevice(id);
    device.lineage.snapshots.delete(device.gen);
    device.lineage.invalidateViews();
    core.devices.delete(id);
    core.commits.batch.devices.set(id, null);
    await core.commit();
    removed(core, id, device.lineage);
  });
}

function removed(core: PoolCore, id: string, lineage: Lineage): void {
  for (const listener of core.listeners) listener(id);
  core.reclaims.queue([lineage]);
}

function newLineage(core: PoolCore, parent: Lineage['parent']): Lineage {
  const lineage = new Lineage(core.nextLineage++, 1, parent);
  core.lineages.set(lineage.id, lineage);
  core.commits.batch.pool.set('next_lineage', core.nextLineage);
  core.commits.batch.lineages.set(lineage.id, lineageRecord(lineage));
  return lineage;
}

function addDevice(core: PoolCore, device: Device): void {
  assert(!core.devices.has(device.id), 'addDevice: id taken');
  core.devices.set(device.id, device);
  core.commits.batch.devices.set(device.id, record(device));
}

/** Refuses an operation that adds metadata while the reserve for its commit is spent (deletes never wait). */
async function needMetadataRoom(core: PoolCore): Promise<void> {
  if (core.space.roomForMetadata()) return;
  await core.space.refresh();
  if (core.space.roomForMetadata()) return;
  throw new StoreError(
    'ENOSPC',
    "the pool's file system is full and its metadata reserve is spent: delete volumes or snapshots, or grow it",
  );
}

function checkFree(core: PoolCore, id: string): void {
  if (typeof id !== 'string' || id.length === 0)
    throw new StoreError('EINVAL', 'device id must be non-empty');
  if (core.devices.has(id)) throw new StoreError('EEXIST', `device ${id} already exists`);
}
