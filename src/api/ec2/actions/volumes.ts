// EC2 volume actions: CreateVolume, DescribeVolumes, DeleteVolume, ModifyVolume,
// DescribeVolumesModifications, DescribeVolumeStatus, DescribeVolumeAttribute, ModifyVolumeAttribute.
// The semantics live in cloud/ebs/volumes.ts and cloud/ebs/volume-modifications.ts; this file reads parameters
// and shapes EC2's XML.
import { CloudError } from '../../../cloud/errors.ts';
import type { Volume } from '../../../cloud/ebs/volumes.ts';
import { volumeStatus } from '../../../cloud/ebs/volumes.ts';
import type { VolumeModification } from '../../../cloud/ebs/volume-modifications.ts';
import { defineAction } from '../action.ts';
import type { XmlObject } from '../xml.ts';
import { checkDryRun, dryRunCheck } from '../dry-run.ts';

/** Tags as EC2's `tagSet`. */
export function tagSet(tags: ReadonlyMap<string, string>): XmlObject[] {
  return [...tags].map(([key, value]) => ({ key, value }));
}

/** A volume as EC2 renders it in DescribeVolumes and CreateVolume. */
export function volumeXml(volume: Volume): XmlObject {
  const { row } = volume;
  return {
    volumeId: row.id,
    size: row.size_gib,
    snapshotId: row.snapshot_id ?? '',
    availabilityZone: row.availability_zone,
    status: row.state,
    createTime: row.create_time,
    attachmentSet: volume.attachment
      ? [
          {
            volumeId: row.id,
            instanceId: volume.attachment.instanceId,
            device: volume.attachment.device,
            status: volume.attachment.status,
            attachTime: volume.attachment.attachTime,
            deleteOnTermination: volume.attachment.deleteOnTermination,
          },
        ]
      : [],
    tagSet: volume.tags.size > 0 ? tagSet(volume.tags) : undefined,
    volumeType: row.volume_type,
    iops: row.iops,
    throughput: row.throughput,
    encrypted: row.encrypted === 1,
    kmsKeyId: row.kms_key_id,
    multiAttachEnabled: row.multi_attach_enabled === 1,
    fastRestored: false,
  };
}

function modificationXml(m: VolumeModification): XmlObject {
  return {
    volumeId: m.volume_id,
    modificationState: m.state,
    statusMessage: m.status_message,
    targetSize: m.target_size_gib,
    targetIops: m.target_iops,
    targetVolumeType: m.target_volume_type,
    targetThroughput: m.target_throughput,
    targetMultiAttachEnabled: m.target_multi_attach_enabled === 1,
    originalSize: m.original_size_gib,
    originalIops: m.original_iops,
    originalVolumeType: m.original_volume_type,
    originalThroughput: m.original_throughput,
    originalMultiAttachEnabled: m.original_multi_attach_enabled === 1,
    progress: m.progress,
    startTime: m.start_time,
    endTime: m.end_time,
  };
}

/** EC2 CreateVolume. */
export const createVolume = defineAction({
  name: 'CreateVolume',
  params: [
    'AvailabilityZone',
    'Size',
    'SnapshotId',
    'VolumeType',
    'Iops',
    'Throughput',
    'Encrypted',
    'KmsKeyId',
    'MultiAttachEnabled',
    'TagSpecification.N',
    'ClientToken',
    'DryRun',
  ],
  status: 'partial',
  notes: 'Encrypted/KmsKeyId are recorded, not enforced (data is not encrypted); no Outposts',
  async run(ctx, params) {
    const volume = await ctx.cloud.ebs.volumes.create(ctx.accountId, {
      zone: params.string('AvailabilityZone'),
      sizeGiB: params.int('Size'),
      snapshotId: params.string('SnapshotId') || undefined,
      volumeType: params.string('VolumeType'),
      iops: params.int('Iops'),
      throughput: params.int('Throughput'),
      encrypted: params.boolean('Encrypted'),
      kmsKeyId: params.string('KmsKeyId'),
      multiAttachEnabled: params.boolean('MultiAttachEnabled'),
      tagSpecifications: params.tagSpecifications(),
      clientToken: params.string('ClientToken') || undefined,
      dryRun: dryRunCheck(ctx, params),
    });
    return volumeXml(volume);
  },
});

/** EC2 DescribeVolumes. */
export const describeVolumes = defineAction({
  name: 'DescribeVolumes',
  params: ['VolumeId.N', 'Filter.N', 'MaxResults', 'NextToken', 'DryRun'],
  async run(ctx, params) {
    const request = { volumeIds: params.list('VolumeId'), filters: params.filters(), ...params.page() };
    checkDryRun(ctx, params);
    const page = await ctx.cloud.ebs.volumes.describe(ctx.accountId, request);
    return { volumeSet: page.items.map(volumeXml), nextToken: page.nextToken };
  },
});

/** EC2 DeleteVolume. */
export const deleteVolume = defineAction({
  name: 'DeleteVolume',
  params: ['VolumeId', 'DryRun'],
  async run(ctx, params) {
    await ctx.cloud.ebs.volumes.delete(
      ctx.accountId,
      params.requiredString('VolumeId'),
      dryRunCheck(ctx, params),
    );
    return { return: true };
  },
});

/** EC2 ModifyVolume. */
export const modifyVolume = defineAction({
  name: 'ModifyVolume',
  params: ['VolumeId', 'Size', 'VolumeType', 'Iops', 'Throughput', 'MultiAttachEnabled', 'DryRun'],
  notes: 'no 6-hour cool-down between modifications',
  async run(ctx, params) {
    const modification = await ctx.cloud.ebs.modifications.modify(
      ctx.accountId,
      params.requiredString('VolumeId'),
      {
        sizeGiB: params.int('Size'),
        volumeType: params.string('VolumeType'),
        iops: params.int('Iops'),
        throughput: params.int('Throughput'),
        multiAttachEnabled: params.boolean('MultiAttachEnabled'),
        dryRun: dryRunCheck(ctx, params),
      },
    );
    return { volumeModification: modificationXml(modification) };
  },
});

/** EC2 DescribeVolumesModifications. */
export const describeVolumesModifications = defineAction({
  name: 'DescribeVolumesModifications',
  params: ['VolumeId.N', 'Filter.N', 'MaxResults', 'NextToken', 'DryRun'],
  async run(ctx, params) {
    const { maxResults, nextToken } = params.page();
    const ids = params.list('VolumeId');
    const filters = params.filters();
    checkDryRun(ctx, params);
    const page = await ctx.cloud.ebs.modifications.describe(
      ctx.accountId,
      ids,
      filters,
      maxResults,
      nextToken,
    );
    return { volumeModificationSet: page.items.map(modificationXml), nextToken: page.nextToken };
  },
});

/** EC2 DescribeVolumeStatus. */
export const describeVolumeStatus = defineAction({
  name: 'DescribeVolumeStatus',
  params: ['VolumeId.N', 'Filter.N', 'MaxResults', 'NextToken', 'DryRun'],
  notes: 'volumes are always ok once created; no scheduled events',
  async run(ctx, params) {
    const request = { volumeIds: params.list('VolumeId'), filters: params.filters(), ...params.page() };
    checkDryRun(ctx, params);
    const page = await ctx.cloud.ebs.volumes.describeStatus(ctx.accountId, request);
    const items = page.items.map(({ row }) => {
      const status = volumeStatus(row);
      const details =
        status === 'ok'
          ? [
              { name: 'io-enabled', status: 'passed' },
              { name: 'io-performance', status: 'not-applicable' },
            ]
          : [];
      return {
        volumeId: row.id,
        availabilityZone: row.availability_zone,
        volumeStatus: { status, details },
        actionsSet: [],
        eventsSet: [],
      };
    });
    return { volumeStatusSet: items, nextToken: page.nextToken };
  },
});

const volumeAttributes = ['autoEnableIO', 'productCodes'] as const;

/** EC2 DescribeVolumeAttribute. */
export const describeVolumeAttribute = defineAction({
  name: 'DescribeVolumeAttribute',
  params: ['VolumeId', 'Attribute', 'DryRun'],
  async run(ctx, params) {
    const volumeId = params.requiredString('VolumeId');
    const attribute = params.enumOf('Attribute', volumeAttributes);
    if (attribute === undefined) throw new CloudError('MissingParameter', { name: 'Attribute' });
    checkDryRun(ctx, params);
    const { row } = await ctx.cloud.ebs.volumes.get(ctx.accountId, volumeId);
    if (attribute === 'productCodes') return { volumeId, productCodes: [] };
    return { volumeId, autoEnableIO: { value: row.auto_enable_io === 1 } };
  },
});

/** EC2 ModifyVolumeAttribute. */
export const modifyVolumeAttribute = defineAction({
  name: 'ModifyVolumeAttribute',
  params: ['VolumeId', 'AutoEnableIO.Value', 'DryRun'],
  async run(ctx, params) {
    const volumeId = params.requiredString('VolumeId');
    const value = params.boolean('AutoEnableIO.Value');
    if (value === undefined) throw new CloudError('MissingParameter', { name: 'AutoEnableIO' });
    await ctx.cloud.ebs.volumes.setAutoEnableIo(ctx.accountId, volumeId, value, dryRunCheck(ctx, params));
    return { return: true };
  },
});

/** Every volume action, for the registry. */
export const volumeActions = [
  createVolume,
  describeVolumes,
  deleteVolume,
  modifyVolume,
  describeVolumesModifications,
  describeVolumeStatus,
  describeVolumeAttribute,
  modifyVolumeAttribute,
] as const;
