// EC2 snapshot actions: CreateSnapshot, DescribeSnapshots, DeleteSnapshot, CopySnapshot and the snapshot
// attributes (createVolumePermission sharing, read-only productCodes). Semantics: cloud/ebs/snapshots.ts and
// cloud/ebs/snapshot-permissions.ts.
import { CloudError } from '../../../cloud/errors.ts';
import type { Snapshot } from '../../../cloud/ebs/snapshots.ts';
import { parseSnapshotAttribute } from '../../../cloud/ebs/snapshot-permissions.ts';
import type { VolumePermission } from '../../../cloud/ebs/snapshot-permissions.ts';
import { defineAction } from '../action.ts';
import type { QueryParams } from '../query-params.ts';
import type { XmlObject } from '../xml.ts';
import { checkDryRun, dryRunCheck } from '../dry-run.ts';
import { tagSet } from './volumes.ts';

/** A snapshot as EC2 renders it in DescribeSnapshots and CreateSnapshot. */
export function snapshotXml(snapshot: Snapshot): XmlObject {
  const { row } = snapshot;
  return {
    snapshotId: row.id,
    volumeId: row.volume_id,
    status: row.state,
    statusMessage: row.state_message ?? undefined,
    startTime: row.start_time,
    progress: `${row.progress}%`,
    ownerId: row.account_id,
    volumeSize: row.volume_size_gib,
    description: row.description,
    encrypted: row.encrypted === 1,
    kmsKeyId: row.kms_key_id,
    tagSet: snapshot.tags.size > 0 ? tagSet(snapshot.tags) : undefined,
    storageTier: 'standard',
  };
}

/** EC2 CreateSnapshot. */
export const createSnapshot = defineAction({
  name: 'CreateSnapshot',
  params: ['VolumeId', 'Description', 'TagSpecification.N', 'DryRun'],
  async run(ctx, params) {
    const volumeId = params.requiredString('VolumeId');
    const snapshot = await ctx.cloud.ebs.snapshots.create(
      ctx.accountId,
      volumeId,
      params.string('Description'),
      params.tagSpecifications(),
      dryRunCheck(ctx, params),
    );
    return snapshotXml(snapshot);
  },
});

/** EC2 DescribeSnapshots. */
export const describeSnapshots = defineAction({
  name: 'DescribeSnapshots',
  params: ['SnapshotId.N', 'Owner.N', 'RestorableBy.N', 'Filter.N', 'MaxResults', 'NextToken', 'DryRun'],
  notes: 'no owner aliases (amazon, aws-marketplace): those match nothing',
  async run(ctx, params) {
    const request = {
      snapshotIds: params.list('SnapshotId'),
      ownerIds: params.list('Owner'),
      restorableByUserIds: params.list('RestorableBy'),
      filters: params.filters(),
      ...params.page(),
    };
    checkDryRun(ctx, params);
    const page = await ctx.cloud.ebs.snapshots.describe(ctx.accountId, request);
    return { snapshotSet: page.items.map(snapshotXml), nextToken: page.nextToken };
  },
});

/** EC2 DeleteSnapshot. */
export const deleteSnapshot = defineAction({
  name: 'DeleteSnapshot',
  params: ['SnapshotId', 'DryRun'],
  async run(ctx, params) {
    await ctx.cloud.ebs.snapshots.delete(
      ctx.accountId,
      params.requiredString('SnapshotId'),
      dryRunCheck(ctx, params),
    );
    return { return: true };
  },
});

/** EC2 CopySnapshot. */
export const copySnapshot = defineAction({
  name: 'CopySnapshot',
  params: [
    'SourceRegion',
    'SourceSnapshotId',
    'Description',
    'Encrypted',
    'KmsKeyId',
    'TagSpecification.N',
    'ClientToken',
    'DryRun',
  ],
  status: 'partial',
  notes: 'same region only; ClientToken honoured when sent (the current SDK model no longer sends one)',
  async run(ctx, params) {
    const snapshot = await ctx.cloud.ebs.snapshots.copy(ctx.accountId, {
      sourceRegion: params.string('SourceRegion'),
      sourceSnapshotId: params.string('SourceSnapshotId'),
      description: params.string('Description'),
      encrypted: params.boolean('Encrypted'),
      kmsKeyId: params.string('KmsKeyId'),
      tagSpecifications: params.tagSpecifications(),
      clientToken: params.string('ClientToken') || undefined,
      dryRun: dryRunCheck(ctx, params),
    });
    return {
      snapshotId: snapshot.row.id,
      tagSet: snapshot.tags.size > 0 ? tagSet(snapshot.tags) : undefined,
    };
  },
});

/** EC2 DescribeSnapshotAttribute. */
export const describeSnapshotAttribute = defineAction({
  name: 'DescribeSnapshotAttribute',
  params: ['SnapshotId', 'Attribute', 'DryRun'],
  async run(ctx, params) {
    const snapshotId = params.requiredString('SnapshotId');
    const attribute = parseSnapshotAttribute(params.string('Attribute'));
    checkDryRun(ctx, params);
    const { permissions } = ctx.cloud.ebs;
    if (attribute === 'productCodes') {
      await permissions.checkOwner(ctx.accountId, snapshotId);
      return { snapshotId, productCodes: [] };
    }
    const grants = await permissions.list(ctx.accountId, snapshotId);
    return { snapshotId, createVolumePermission: grants.map((g) => ({ ...g })) };
  },
});

function readPermissions(list: QueryParams[]): VolumePermission[] {
  return list.map((entry) => {
    const group = entry.string('Group');
    if (group !== undefined) return { group: group as 'all' };
    return { userId: entry.requiredString('UserId') };
  });
}

/** EC2 ModifySnapshotAttribute: both the CreateVolumePermission.Add/Remove and OperationType spellings. */
export const modifySnapshotAttribute = defineAction({
  name: 'ModifySnapshotAttribute',
  params: [
    'SnapshotId',
    'Attribute',
    'CreateVolumePermission',
    'OperationType',
    'UserId.N',
    'UserGroup.N',
    'DryRun',
  ],
  async run(ctx, params) {
    const snapshotId = params.requiredString('SnapshotId');
    const attribute =
      params.string('Attribute') === undefined
        ? 'createVolumePermission'
        : parseSnapshotAttribute(params.string('Attribute'));
    if (attribute === 'productCodes') {
      throw new CloudError('InvalidParameterValue', {
        name: 'Attribute',
        value: attribute,
        expected: 'createVolumePermission (productCodes is read-only)',
      });
    }
    const add = readPermissions(params.structList('CreateVolumePermission.Add'));
    const remove = readPermissions(params.structList('CreateVolumePermission.Remove'));
    const operation = params.enumOf('OperationType', ['add', 'remove'] as const);
    const listed: VolumePermission[] = [
      ...params.list('UserId').map((userId) => ({ userId })),
      ...params.list('UserGroup').map((group) => ({ group: group as 'all' })),
    ];
    if (listed.length > 0 && operation === undefined)
      throw new CloudError('MissingParameter', { name: 'OperationType' });
    if (operation === 'add') add.push(...listed);
    if (operation === 'remove') remove.push(...listed);
    await ctx.cloud.ebs.permissions.modify(
      ctx.accountId,
      snapshotId,
      { add, remove },
      dryRunCheck(ctx, params),
    );
    return { return: true };
  },
});

/** EC2 ResetSnapshotAttribute: createVolumePermission back to private. */
export const resetSnapshotAttribute = defineAction({
  name: 'ResetSnapshotAttribute',
  params: ['SnapshotId', 'Attribute', 'DryRun'],
  async run(ctx, params) {
    const snapshotId = params.requiredString('SnapshotId');
    const attribute = parseSnapshotAttribute(params.string('Attribute'));
    if (attribute === 'productCodes') {
      throw new CloudError('InvalidParameterValue', {
        name: 'Attribute',
        value: attribute,
        expected: 'createVolumePermission',
      });
    }
    await ctx.cloud.ebs.permissions.reset(ctx.accountId, snapshotId, dryRunCheck(ctx, params));
    return { return: true };
  },
});

/** Every snapshot action, for the registry. */
export const snapshotActions = [
  createSnapshot,
  describeSnapshots,
  deleteSnapshot,
  copySnapshot,
  describeSnapshotAttribute,
  modifySnapshotAttribute,
  resetSnapshotAttribute,
] as const;
