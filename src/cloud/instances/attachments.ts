// AttachVolume / DetachVolume: volumes move attaching → attached → detaching → gone, hot-plugged through
// the driver on running instances and only re-mapped on stopped ones (the next start sees the change).
// The row moves first and the driver call follows in the instance's queue, so it is ordered with the
// instance's own transitions.
import type { Kysely } from 'kysely';
import type { Logger } from '../../base/log.ts';
import { ec2Error } from '../errors.ts';
import type { Database } from '../../db/schema.ts';
import { nowIso } from '../../db/schema.ts';
import { VmDriverError, type VmDriver } from '../../compute/vm-driver.ts';
import type { NbdServer } from '../../nbd/nbd-server.ts';
import { checkDeviceName } from '../images/block-device-mappings.ts';
import type { Ebs } from '../ebs/ebs.ts';
import type { AttachmentLookup } from '../ebs/volumes.ts';
import { ownedVolume } from '../ebs/lookups.ts';
import { mappingsOf, volumeDisk, type InstanceMappingRow } from './disks.ts';
import { incorrectState } from './instance-states.ts';
import type { InstanceService } from './instances.ts';
import type { WorkQueue } from '../common/work-queue.ts';
import type { DryRunCheck } from '../common/dry-run.ts';

/** An attachment as AttachVolume/DetachVolume answer it. */
export interface Attachment {
  readonly volumeId: string;
  readonly instanceId: string;
  readonly device: string;
  readonly status: string;
  readonly attachTime: string;
  readonly deleteOnTermination: boolean;
}

/** What the attachment service is built from. */
export interface AttachmentServiceDeps {
  readonly db: Kysely<Database>;
  readonly nbd: NbdServer;
  readonly ebs: Ebs;
  readonly driver: VmDriver;
  readonly instances: InstanceService;
  readonly work: WorkQueue;
  readonly logger: Logger;
}

/** The AttachmentLookup port EBS asks for DescribeVolumes' attachmentSet: volumes' rows in the mappings. */
export function volumeAttachments(db: Kysely<Database>): AttachmentLookup {
  return {
    async attachmentsOf(volumeIds) {
      if (volumeIds.length === 0) return new Map();
      const rows = await db
        .selectFrom('block_device_mappings')
        .selectAll()
        .where('volume_id', 'in', volumeIds)
        .execute();
      return new Map(rows.map((r) => [r.volume_id as string, attachmentOf(r)]));
    },
  };
}

function attachmentOf(row: InstanceMappingRow, status = row.attachment_state ?? ''): Attachment {
  return {
    volumeId: row.volume_id ?? '',
    instanceId: row.owner_id,
    device: row.device_name,
    status,
    attachTime: row.attach_time ?? '',
    deleteOnTermination: row.delete_on_termination === 1,
  };
}

/** Attaches and detaches volumes. */
export class AttachmentService {
  readonly #deps: AttachmentServiceDeps;

  constructor(deps: AttachmentServiceDeps) {
    this.#deps = deps;
  }

  /** AttachVolume. */
  async attach(
    accountId: string,
    volumeId: string,
    instanceId: string,
    device: string,
    dryRun: DryRunCheck,
  ): Promise<Attachment> {
    const { db, ebs } = this.#deps;
    const volume = await ownedVolume(db, accountId, volumeId);
    const instance = await this.#deps.instances.get(accountId, instanceId);
    checkDeviceName(device);
    if (volume.availability_zone !== instance.row.availability_zone) {
      throw ec2Error(
        'InvalidVolume.ZoneMismatch',
        `The volume '${volumeId}' is not in the same availability zone as instance '${instanceId}'`,
      );
    }
    if (volume.state === 'in-use') throw await ebs.volumes.inUseError(volumeId, 'already attached to');
    if (volume.state !== 'available')
      throw ec2Error('IncorrectState', `The volume '${volumeId}' is '${volume.state}'.`);
    if (instance.row.state !== 'running' && instance.row.state !== 'stopped') {
      throw incorrectState(instanceId, instance.row.state, 'attached to');
    }
    if (instance.mappings.some((m) => m.device_name === device)) {
      throw ec2Error(
        'InvalidParameterValue',
        `Invalid value '${device}' for unixDevice. Attachment point ${device} is already in use`,
      );
    }
    dryRun();
    if (!(await ebs.volumes.setInUse(accountId, volumeId, true)))
      throw await ebs.volumes.inUseError(volumeId, 'already attached to');
    const row: InstanceMappingRow = {
      owner_id: instanceId,
      account_id: accountId,
      device_name: device,
      position: instance.mappings.reduce((max, m) => Math.max(max, m.position + 1), 0),
      snapshot_id: volume.snapshot_id,
      volume_id: volumeId,
      volume_size_gib: volume.size_gib,
      volume_type: volume.volume_type,
      iops: volume.iops,
      throughput: volume.throughput,
      delete_on_termination: 0,
      no_device: 0,
      virtual_name: null,
      attachment_state: 'attaching',
      attach_time: nowIso(),
    };
    await db.insertInto('block_device_mappings').values(row).execute();
    this.#deps.work.enqueue(
      instanceId,
      () => this.#plug(row),
      () => this.#rollbackAttach(row),
    );
    return attachmentOf(row);
  }

  async #plug(row: InstanceMappingRow): Promise<void> {
    const volumeId = row.volume_id as string;
    const instance = await this.#deps.instances.byId(row.owner_id);
    if (instance?.state === 'running') {
      await this.#deps.driver.attachVolume(row.owner_id, volumeDisk(this.#deps.nbd, volumeId, row.owner_id));
    }
    await this.#setAttachment(row, 'attached');
  }

  async #rollbackAttach(row: InstanceMappingRow): Promise<void> {
    const volumeId = row.volume_id as string;
    this.#deps.nbd.unlock(volumeId);
    await this.#deps.db
      .deleteFrom('block_device_mappings')
      .where('owner_id', '=', row.owner_id)
      .where('device_name', '=', row.device_name)
      .execute();
    await this.#deps.ebs.volumes.setInUse(row.account_id, volumeId, false);
  }

  async #setAttachment(row: InstanceMappingRow, state: string): Promise<void> {
    await this.#deps.db
      .updateTable('block_device_mappings')
      .set({ attachment_state: state })
      .where('owner_id', '=', row.owner_id)
      .where('device_name', '=', row.device_name)
      .execute();
  }

  /** DetachVolume: the root only from a stopped instance; Force skips waiting for the guest. */
  async detach(
    accountId: string,
    request: {
      volumeId: string;
      instanceId: string | undefined;
      device: string | undefined;
      force: boolean;
      dryRun: DryRunCheck;
    },
  ): Promise<Attachment> {
    const { db } = this.#deps;
    const volume = await ownedVolume(db, accountId, request.volumeId);
    const [row] = (await db
      .selectFrom('block_device_mappings')
      .selectAll()
      .where('volume_id', '=', volume.id)
      .execute()) as (InstanceMappingRow | undefined)[];
    if (row === undefined)
      throw ec2Error('IncorrectState', `Volume '${volume.id}' is in the 'available' state.`);
    if (
      (request.instanceId !== undefined && request.instanceId !== row.owner_id) ||
      (request.device !== undefined && request.device !== row.device_name)
    ) {
      throw ec2Error(
        'InvalidAttachment.NotFound',
        `The volume '${volume.id}' is not attached to '${request.instanceId ?? request.device}'.`,
      );
    }
    const instance = await this.#deps.instances.get(accountId, row.owner_id);
    if (row.device_name === instance.row.root_device_name && instance.row.state !== 'stopped') {
      throw ec2Error(
        'IncorrectState',
        `Unable to detach root volume '${volume.id}' from instance '${row.owner_id}'`,
      );
    }
    if (row.attachment_state === 'detaching' && !request.force) return attachmentOf(row);
    if (row.attachment_state !== 'attached' && row.attachment_state !== 'detaching') {
      throw ec2Error('IncorrectState', `The volume '${volume.id}' is '${row.attachment_state ?? ''}'.`);
    }
    request.dryRun();
    await this.#setAttachment(row, 'detaching');
    this.#deps.work.enqueue(
      row.owner_id,
      () => this.#unplug(row, request.force),
      async () => this.#setAttachment(row, 'attached'),
    );
    return attachmentOf(row, 'detaching');
  }

  async #unplug(row: InstanceMappingRow, force: boolean): Promise<void> {
    const volumeId = row.volume_id as string;
    const instance = await this.#deps.instances.byId(row.owner_id);
    const current = (await mappingsOf(this.#deps.db, [row.owner_id])).find((m) => m.volume_id === volumeId);
    if (current?.attachment_state !== 'detaching') return;
    if (instance?.state === 'running') {
      try {
        await this.#deps.driver.detachVolume(row.owner_id, volumeId);
      } catch (error) {
        // The guest still holds the disk: the volume stays `detaching` (never handed out) unless forced.
        if (!(error instanceof VmDriverError) || (error.code === 'timeout' && !force)) throw error;
        if (error.code !== 'disk-not-found' && error.code !== 'timeout') throw error;
      }
    }
    this.#deps.nbd.unlock(volumeId);
    await this.#deps.db
      .deleteFrom('block_device_mappings')
      .where('owner_id', '=', row.owner_id)
      .where('volume_id', '=', volumeId)
      .execute();
    await this.#deps.ebs.volumes.setInUse(row.account_id, volumeId, false);
  }
}
