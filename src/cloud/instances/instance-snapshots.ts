// CreateSnapshots: one snapshot of each EBS volume of an instance (optionally without the boot volume or some
// data volumes), taken in the instance's queue so no attach, detach or stop interleaves. Crash-consistent
// across volumes: a running VM is paused (QEMU `stop` drains and flushes its disks) while the store snapshots
// each volume, and resumed after, so all snapshots hold the same instant — as if the power had been cut.
// The pause lasts only the store's snapshot calls (metadata, milliseconds each); completion is asynchronous.
import { VmDriverError, type VmDriver } from '../../compute/vm-driver.ts';
import type { Ebs } from '../ebs/ebs.ts';
import type { InstanceService } from './instances.ts';
import type { Snapshot } from '../ebs/snapshots.ts';
import { tagsForResource, type TagSpecification } from '../common/tags.ts';
import type { WorkQueue } from '../common/work-queue.ts';
import { noDryRun, type DryRunCheck } from '../common/dry-run.ts';

/** CreateSnapshots' parameters. */
export interface CreateSnapshotsRequest {
  readonly instanceId: string;
  readonly excludeBootVolume: boolean;
  readonly excludeDataVolumeIds: readonly string[];
  readonly description: string | undefined;
  readonly tagSpecifications: readonly TagSpecification[];
  /** `volume`: each snapshot also gets its volume's tags. */
  readonly copyTagsFromSource: string | undefined;
  readonly dryRun: DryRunCheck;
}

/** Snapshots the instance's volumes; returns them in mapping order (root first). */
export async function createInstanceSnapshots(
  deps: { ebs: Ebs; instances: InstanceService; work: WorkQueue; driver: VmDriver },
  accountId: string,
  request: CreateSnapshotsRequest,
): Promise<Snapshot[]> {
  const instance = await deps.instances.get(accountId, request.instanceId);
  const tags = tagsForResource(request.tagSpecifications, 'snapshot');
  const volumes = instance.mappings.filter(
    (m) =>
      m.volume_id !== null &&
      !(request.excludeBootVolume && m.device_name === instance.row.root_device_name) &&
      !request.excludeDataVolumeIds.includes(m.volume_id),
  );
  request.dryRun();
  return deps.work.exclusive(instance.row.id, async () => {
    const volumeTags = await deps.ebs.tags.tagsOf(
      accountId,
      volumes.map((m) => m.volume_id as string),
    );
    const frozen = await freeze(deps.driver, instance.row.id);
    try {
      const snapshots: Snapshot[] = [];
      for (const mapping of volumes) {
        const volumeId = mapping.volume_id as string;
        const copied = request.copyTagsFromSource === 'volume' ? [...(volumeTags.get(volumeId) ?? [])] : [];
        const all = [...copied.map(([key, value]) => ({ key, value })), ...tags];
        const specs = all.length > 0 ? [{ resourceType: 'snapshot', tags: all }] : [];
        snapshots.push(
          await deps.ebs.snapshots.create(accountId, volumeId, request.description, specs, noDryRun),
        );
      }
      return snapshots;
    } finally {
      if (frozen) await thaw(deps.driver, instance.row.id);
    }
  });
}

/** Pauses the instance's VM if it runs (true), so its disks hold still; a stopped one needs nothing. */
async function freeze(driver: VmDriver, instanceId: string): Promise<boolean> {
  if (!(await driver.list()).some((vm) => vm.instanceId === instanceId)) return false;
  if (!(await driver.capabilities()).pause) return false;
  await driver.pause(instanceId);
  return true;
}

/** Resumes the paused VM; one that stopped meanwhile (its QEMU died) is the lifecycle's business, not ours. */
async function thaw(driver: VmDriver, instanceId: string): Promise<void> {
  await driver.resume(instanceId).catch((error: unknown) => {
    if (!(error instanceof VmDriverError && error.code === 'not-found')) throw error;
  });
}
