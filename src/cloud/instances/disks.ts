// The disks of instances: the volumes RunInstances creates from the merged block device mappings, the
// instance-store scratch files, and the DiskSpecs handed to the driver (NBD endpoints on <data-dir>/nbd.sock,
// with the NBD server's secret per-attachment export name).
//
// Crash safety: the volume rows (`creating`) and mapping rows are committed with the instance; the devices
// are made afterwards by a repeatable step (a device left by an interrupted attempt is kept), then the
// volumes go `in-use`. Recovery repeats the step for instances still `pending`.
import { mkdir, open, rm, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely, Selectable } from 'kysely';
import { assert } from '../../base/assert.ts';
import { newId } from '../../base/ids.ts';
import { limits } from '../../base/limits.ts';
import type { Database } from '../../db/schema.ts';
import { nowIso } from '../../db/schema.ts';
import type { BlockDeviceMappingsTable } from '../../db/tables/block-device-mappings.ts';
import type { NbdServer } from '../../nbd/nbd-server.ts';
import type { BlockStore } from '../../storage/block-store.ts';
import type { DiskSpec } from '../../compute/vm-driver.ts';
import type { Mapping } from '../images/block-device-mappings.ts';
import type { VolumeRow } from '../ebs/lookups.ts';
import type { VolumeService } from '../ebs/volumes.ts';
import { ephemeralDir } from '../images/instance-store-images.ts';

/** A stored mapping of an instance. */
export type InstanceMappingRow = Selectable<BlockDeviceMappingsTable>;

/** What the disk helpers work with. */
export interface InstanceDisksDeps {
  readonly db: Kysely<Database>;
  readonly store: BlockStore;
  readonly nbd: NbdServer;
  readonly dataDir: string;
}

/** The rows RunInstances commits for one instance's disks: new volumes and the mapping rows. */
export function planDisks(
  instanceId: string,
  accountId: string,
  zone: string,
  mappings: readonly Mapping[],
): { volumes: VolumeRow[]; rows: InstanceMappingRow[] } {
  const volumes: VolumeRow[] = [];
  const rows: InstanceMappingRow[] = [];
  const now = nowIso();
  mappings.forEach((mapping, position) => {
    assert(mapping.kind !== 'no-device', 'merged mappings hold no NoDevice entries');
    const base = { owner_id: instanceId, account_id: accountId, device_name: mapping.deviceName, position };
    if (mapping.kind === 'ephemeral') {
      rows.push({
        ...base,
        ...emptyMapping(),
        virtual_name: mapping.virtualName,
        attachment_state: 'attached',
        attach_time: now,
      });
      return;
    }
    const volume: VolumeRow = {
      id: newId('vol'),
      account_id: accountId,
      availability_zone: zone,
      size_gib: mapping.volumeSizeGiB,
      snapshot_id: mapping.snapshotId,
      volume_type: mapping.volumeType,
      iops: mapping.iops,
      throughput: mapping.throughput,
      encrypted: 0,
      kms_key_id: null,
      multi_attach_enabled: 0,
      state: 'creating',
      auto_enable_io: 0,
      create_time: now,
    };
    volumes.push(volume);
    rows.push({
      ...base,
      ...emptyMapping(),
      volume_id: volume.id,
      snapshot_id: mapping.snapshotId,
      volume_size_gib: mapping.volumeSizeGiB,
      volume_type: mapping.volumeType,
      delete_on_termination: mapping.deleteOnTermination ? 1 : 0,
      attachment_state: 'attaching',
      attach_time: now,
    });
  });
  return { volumes, rows };
}

function emptyMapping(): Omit<InstanceMappingRow, 'owner_id' | 'account_id' | 'device_name' | 'position'> {
  return {
    snapshot_id: null,
    volume_id: null,
    volume_size_gib: null,
    volume_type: null,
    iops: null,
    throughput: null,
    delete_on_termination: 1,
    no_device: 0,
    virtual_name: null,
    attachment_state: null,
    attach_time: null,
  };
}

/** The mapping rows of `instanceId`, in order (root first). */
export async function mappingsOf(
  db: Kysely<Database>,
  instanceIds: readonly string[],
): Promise<InstanceMappingRow[]> {
  if (instanceIds.length === 0) return [];
  return db
    .selectFrom('block_device_mappings')
    .selectAll()
    .where('owner_id', 'in', instanceIds)
    .orderBy('owner_id')
    .orderBy('position')
    .execute();
}

/**
 * Has EBS make the devices of an instance's `attaching` volumes (repeatable) and marks them attached/in-use;
 * the volume's state is EBS's to write, the mapping's compute's.
 */
export async function materializeVolumes(
  db: Kysely<Database>,
  volumes: VolumeService,
  instanceId: string,
): Promise<void> {
  const rows = (await mappingsOf(db, [instanceId])).filter(
    (r) => r.attachment_state === 'attaching' && r.volume_id,
  );
  for (const row of rows) {
    const volumeId = row.volume_id as string;
    await volumes.materialize(volumeId, row.volume_size_gib ?? 0, row.snapshot_id);
    await db.transaction().execute(async (trx) => {
      await volumes.attachToInstance(trx, volumeId);
      await trx
        .updateTable('block_device_mappings')
        .set({ attachment_state: 'attached' })
        .where('owner_id', '=', instanceId)
        .where('device_name', '=', row.device_name)
        .execute();
    });
  }
}

/** Makes (or keeps) the sparse scratch file of an ephemeral mapping; `empty` truncates it first (stop). */
export async function ephemeralFile(
  dataDir: string,
  instanceId: string,
  virtualName: string,
  empty = false,
): Promise<string> {
  const dir = ephemeralDir(dataDir, instanceId);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${virtualName}.img`);
  const handle = await open(path, 'a', 0o600);
  await handle.close();
  if (empty) await truncate(path, 0);
  await truncate(path, limits.ephemeralDiskBytes);
  return path;
}

/** Empties every instance-store disk of a stopped instance, as EC2 loses instance-store data on stop. */
export async function emptyEphemeralDisks(deps: InstanceDisksDeps, instanceId: string): Promise<void> {
  for (const row of await mappingsOf(deps.db, [instanceId])) {
    if (row.virtual_name !== null) await ephemeralFile(deps.dataDir, instanceId, row.virtual_name, true);
  }
}

/** Removes an instance's instance-store files (terminate). */
export async function removeEphemeralDisks(dataDir: string, instanceId: string): Promise<void> {
  await rm(ephemeralDir(dataDir, instanceId), { recursive: true, force: true });
}

/** The NBD export a volume attached to `instanceId` is reached through (its attachment lock's secret). */
export function exportFor(nbd: NbdServer, volumeId: string, instanceId: string): string {
  return nbd.lockForAttachment(volumeId, `instance ${instanceId}`);
}

/** One volume as the driver sees it. */
export function volumeDisk(
  nbd: NbdServer,
  volumeId: string,
  instanceId: string,
  bootIndex?: number,
): DiskSpec {
  const exportName = exportFor(nbd, volumeId, instanceId);
  const disk = { serial: volumeId, nbd: { socketPath: nbd.socketPath, exportName } };
  return bootIndex === undefined ? disk : { ...disk, bootIndex };
}

/**
 * The disks to spawn `instanceId` with: attached mappings, root first with boot index 0. An instance-store
 * instance passes its root overlay (`instanceStoreRoot`), which the guest sees with the image id as serial.
 */
export async function diskSpecs(
  deps: InstanceDisksDeps,
  instanceId: string,
  rootDeviceName: string,
  instanceStoreRoot?: { readonly imageId: string; readonly file: string },
): Promise<DiskSpec[]> {
  const rows = (await mappingsOf(deps.db, [instanceId])).filter((r) => r.attachment_state === 'attached');
  const disks: DiskSpec[] = [];
  if (instanceStoreRoot !== undefined) {
    const { imageId, file } = instanceStoreRoot;
    disks.push({ serial: imageId, file, format: 'qcow2', bootIndex: 0 });
  }
  const root = rows.find((r) => r.device_name === rootDeviceName);
  assert(
    instanceStoreRoot !== undefined || (root !== undefined && root.volume_id !== null),
    `instance ${instanceId} has no root volume`,
  );
  const ordered = root === undefined ? rows : [root, ...rows.filter((r) => r !== root)];
  for (const row of ordered) {
    const bootIndex = row === root && instanceStoreRoot === undefined ? 0 : undefined;
    if (row.volume_id !== null) disks.push(volumeDisk(deps.nbd, row.volume_id, instanceId, bootIndex));
    else if (row.virtual_name !== null) {
      const file = await ephemeralFile(deps.dataDir, instanceId, row.virtual_name);
      disks.push({ serial: `${row.virtual_name}`, file });
    }
  }
  return disks;
}
