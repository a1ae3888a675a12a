// CreateSnapshots: one snapshot of each EBS volume of an instance (optionally without the boot volume or some
// data volumes), taken in the instance's queue so no attach, detach or stop interleaves. Each snapshot is
// taken through the EBS snapshot service, one volume after another: consistent per volume, but NOT yet
// crash-consistent across volumes while the guest writes (that needs the store to snapshot a set at once).
import { ApiError } from '../api/errors.ts';
import type { Ebs } from './ebs.ts';
import type { InstanceService } from './instances.ts';
import type { Snapshot } from './snapshots.ts';
import { tagsForResource, type TagSpecification } from './tags.ts';
import type { WorkQueue } from './work-queue.ts';

/** CreateSnapshots' parameters. */
export interface CreateSnapshotsRequest {
  readonly instanceId: string;
  readonly excludeBootVolume: boolean;
  readonly excludeDataVolumeIds: readonly string[];
  readonly description: string | undefined;
  readonly tagSpecifications: readonly TagSpecification[];
  /** `volume`: each snapshot also gets its volume's tags. */
  readonly copyTagsFromSource: string | undefined;
  readonly dryRun: boolean;
}

/** Snapshots the instance's volumes; returns them in mapping order (root first). */
export async function createInstanceSnapshots(
  deps: { ebs: Ebs; instances: InstanceService; work: WorkQueue },
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
  if (request.dryRun) throw new ApiError('DryRunOperation');
  return deps.work.exclusive(instance.row.id, async () => {
    const volumeTags = await deps.ebs.tags.tagsOf(
      accountId,
      volumes.map((m) => m.volume_id as string),
    );
    const snapshots: Snapshot[] = [];
    for (const mapping of volumes) {
      const volumeId = mapping.volume_id as string;
      const copied = request.copyTagsFromSource === 'volume' ? [...(volumeTags.get(volumeId) ?? [])] : [];
      const all = [...copied.map(([key, value]) => ({ key, value })), ...tags];
      const specs = all.length > 0 ? [{ resourceType: 'snapshot', tags: all }] : [];
      snapshots.push(await deps.ebs.snapshots.create(accountId, volumeId, request.description, specs, false));
    }
    return snapshots;
  });
}
