// CreateImage: snapshots every EBS volume of an instance into a new AMI. Without NoReboot the VM is shut
// down first so the guest flushes its file systems, then booted again (the instance stays `running`, as in
// EC2). The image is `pending` until every snapshot is completed, then `available`.
import type { Kysely } from 'kysely';
import type { Logger } from '../../base/log.ts';
import { CloudError, ec2Error } from '../errors.ts';
import type { Database } from '../../db/schema.ts';
import { mergeMappings, type Mapping, type MappingRequest } from '../images/block-device-mappings.ts';
import type { Ebs } from '../ebs/ebs.ts';
import type { ImageRow, ImageService } from '../images/images.ts';
import { incorrectState } from './instance-states.ts';
import type { InstanceLifecycle } from './lifecycle.ts';
import type { Instance, InstanceService } from './instances.ts';
import { tagsForResource, type TagSpecification } from '../common/tags.ts';
import type { WorkQueue } from '../common/work-queue.ts';
import { noDryRun, type DryRunCheck } from '../common/dry-run.ts';

/** CreateImage's parameters. */
export interface CreateImageRequest {
  readonly instanceId: string;
  readonly name: string | undefined;
  readonly description: string | undefined;
  readonly noReboot: boolean;
  readonly mappings: readonly MappingRequest[];
  readonly tagSpecifications: readonly TagSpecification[];
  readonly dryRun: DryRunCheck;
}

/** What CreateImage is built from. */
export interface ImageCreationDeps {
  readonly db: Kysely<Database>;
  readonly ebs: Ebs;
  readonly images: ImageService;
  readonly instances: InstanceService;
  readonly lifecycle: InstanceLifecycle;
  readonly work: WorkQueue;
  readonly logger: Logger;
}

/** CreateImage from a running or stopped instance. */
export async function createImage(
  deps: ImageCreationDeps,
  accountId: string,
  request: CreateImageRequest,
): Promise<ImageRow> {
  const { images, instances } = deps;
  const instance = await instances.get(accountId, request.instanceId);
  if (request.name === undefined || request.name === '')
    throw new CloudError('MissingParameter', { name: 'Name' });
  await images.checkName(accountId, request.name);
  if (instance.row.state !== 'running' && instance.row.state !== 'stopped') {
    throw incorrectState(instance.row.id, instance.row.state, 'imaged');
  }
  if (instance.row.root_device_type === 'instance-store') {
    throw ec2Error(
      'UnsupportedOperation',
      `The instance '${instance.row.id}' has an instance-store root device: CreateImage needs an EBS root.`,
    );
  }
  const imageTags = tagsForResource(
    request.tagSpecifications.filter((s) => s.resourceType === 'image'),
    'image',
  );
  const snapshotSpecs = request.tagSpecifications.filter((s) => s.resourceType !== 'image');
  tagsForResource(snapshotSpecs, 'snapshot');
  const merged = await mergeMappings(
    currentMappings(instance),
    request.mappings,
    instance.row.root_device_name,
    images.snapshotSizes(accountId),
  );
  request.dryRun();
  const row: ImageRow = {
    ...images.newRow(accountId, {
      name: request.name,
      description: request.description ?? '',
      root_device_name: instance.row.root_device_name,
      boot_mode: instance.row.boot_mode,
      ena_support: 1,
      source_instance_id: instance.row.id,
    }),
    state: 'pending',
  };
  const snapshotAll = (): Promise<Mapping[]> =>
    snapshotVolumes(deps, accountId, row.id, instance.row.id, merged, snapshotSpecs);
  const withSnapshots = request.noReboot
    ? await deps.work.exclusive(instance.row.id, snapshotAll)
    : await deps.lifecycle.withVmStopped(instance.row.id, snapshotAll);
  await images.insert(row, withSnapshots, imageTags);
  deps.work.enqueue(
    row.id,
    () => completeImage(deps, row.id, withSnapshots),
    async () => {
      await deps.db.updateTable('images').set({ state: 'failed' }).where('id', '=', row.id).execute();
    },
  );
  return row;
}

// The instance's own volumes, as the image would map them before the request's overrides.
function currentMappings(instance: Instance): Mapping[] {
  return instance.mappings.map((m) =>
    m.virtual_name !== null
      ? { kind: 'ephemeral', deviceName: m.device_name, virtualName: m.virtual_name }
      : {
          kind: 'ebs',
          deviceName: m.device_name,
          snapshotId: null,
          volumeSizeGiB: m.volume_size_gib ?? 1,
          volumeType: m.volume_type ?? 'gp2',
          iops: null,
          throughput: null,
          deleteOnTermination: m.delete_on_termination === 1,
        },
  );
}

// Mappings that still name the instance's volume (snapshotId null, same device) become snapshots of it.
async function snapshotVolumes(
  deps: ImageCreationDeps,
  accountId: string,
  imageId: string,
  instanceId: string,
  merged: readonly Mapping[],
  specs: readonly TagSpecification[],
): Promise<Mapping[]> {
  const volumes = new Map(
    (await deps.instances.get(accountId, instanceId)).mappings.map(
      (m) => [m.device_name, m.volume_id] as const,
    ),
  );
  const result: Mapping[] = [];
  for (const mapping of merged) {
    const volumeId = volumes.get(mapping.deviceName);
    if (
      mapping.kind !== 'ebs' ||
      mapping.snapshotId !== null ||
      volumeId === undefined ||
      volumeId === null
    ) {
      result.push(mapping);
      continue;
    }
    const description = `Created by CreateImage(${instanceId}) for ${imageId} from ${volumeId}`;
    const snapshot = await deps.ebs.snapshots.create(accountId, volumeId, description, specs, noDryRun);
    result.push({ ...mapping, snapshotId: snapshot.row.id });
  }
  return result;
}

async function completeImage(
  deps: ImageCreationDeps,
  imageId: string,
  mappings: readonly Mapping[],
): Promise<void> {
  await deps.ebs.idle();
  const ids = mappings.flatMap((m) => (m.kind === 'ebs' && m.snapshotId !== null ? [m.snapshotId] : []));
  const rows =
    ids.length === 0
      ? []
      : await deps.db.selectFrom('snapshots').select(['id', 'state']).where('id', 'in', ids).execute();
  const ok = rows.length === ids.length && rows.every((r) => r.state === 'completed');
  await deps.db
    .updateTable('images')
    .set({ state: ok ? 'available' : 'failed' })
    .where('id', '=', imageId)
    .execute();
}
