// EC2 AttachVolume, DetachVolume and CreateSnapshots (an instance's volumes); the semantics live in
// cloud/instances/attachments.ts and cloud/instances/instance-snapshots.ts.
import type { Attachment } from '../../../cloud/instances/attachments.ts';
import { defineAction } from '../action.ts';
import type { XmlObject } from '../xml.ts';
import { snapshotXml } from './snapshots.ts';
import { dryRunCheck } from '../dry-run.ts';

/** An attachment as AttachVolume/DetachVolume (and DescribeVolumes' attachmentSet) render it. */
export function attachmentXml(a: Attachment): XmlObject {
  return {
    volumeId: a.volumeId,
    instanceId: a.instanceId,
    device: a.device,
    status: a.status,
    attachTime: a.attachTime,
    deleteOnTermination: a.deleteOnTermination,
  };
}

/** EC2 AttachVolume. */
export const attachVolume = defineAction({
  name: 'AttachVolume',
  params: ['VolumeId', 'InstanceId', 'Device', 'DryRun'],
  async run(ctx, params) {
    const attachment = await ctx.cloud.compute.attachments.attach(
      ctx.accountId,
      params.requiredString('VolumeId'),
      params.requiredString('InstanceId'),
      params.requiredString('Device'),
      dryRunCheck(ctx, params),
    );
    return attachmentXml(attachment);
  },
});

/** EC2 DetachVolume. */
export const detachVolume = defineAction({
  name: 'DetachVolume',
  params: ['VolumeId', 'InstanceId', 'Device', 'Force', 'DryRun'],
  async run(ctx, params) {
    const attachment = await ctx.cloud.compute.attachments.detach(ctx.accountId, {
      volumeId: params.requiredString('VolumeId'),
      instanceId: params.string('InstanceId') || undefined,
      device: params.string('Device') || undefined,
      force: params.boolean('Force') === true,
      dryRun: dryRunCheck(ctx, params),
    });
    return attachmentXml(attachment);
  },
});

/** EC2 CreateSnapshots. */
export const createSnapshots = defineAction({
  name: 'CreateSnapshots',
  params: [
    'InstanceSpecification.InstanceId',
    'InstanceSpecification.ExcludeBootVolume',
    'InstanceSpecification.ExcludeDataVolumeId.N',
    'Description',
    'TagSpecification.N',
    'CopyTagsFromSource',
    'DryRun',
  ],
  notes: 'crash-consistent: a running VM is paused (QMP stop/cont) around the per-volume snapshots',
  async run(ctx, params) {
    const snapshots = await ctx.cloud.compute.createSnapshots(ctx.accountId, {
      instanceId: params.requiredString('InstanceSpecification.InstanceId'),
      excludeBootVolume: params.boolean('InstanceSpecification.ExcludeBootVolume') === true,
      excludeDataVolumeIds: params.list('InstanceSpecification.ExcludeDataVolumeId'),
      description: params.string('Description'),
      tagSpecifications: params.tagSpecifications(),
      copyTagsFromSource: params.string('CopyTagsFromSource'),
      dryRun: dryRunCheck(ctx, params),
    });
    // CreateSnapshots' SnapshotInfo names the state `state`, where DescribeSnapshots says `status`.
    return {
      snapshotSet: snapshots.map((snapshot) => {
        const { status, ...rest } = snapshotXml(snapshot);
        return { ...rest, state: status };
      }),
    };
  },
});

/** The attachment and instance-snapshot actions, for the registry. */
export const attachmentActions = [attachVolume, detachVolume, createSnapshots] as const;
