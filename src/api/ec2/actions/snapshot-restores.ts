// How snapshots restore: Describe/Enable/DisableFastSnapshotRestores (cloud/ebs/fast-snapshot-restores.ts)
// and DescribeSnapshotTierStatus (every Strata snapshot is in the standard tier; archiving to the snapshot
// store is no EC2 tier, see docs/archive.md).
import { compileFilters, type FilterFields } from '../../../cloud/common/filters.ts';
import type { FastRestore, FastRestoreChange } from '../../../cloud/ebs/fast-snapshot-restores.ts';
import type { Snapshot } from '../../../cloud/ebs/snapshots.ts';
import { defineAction, type Ec2Action } from '../action.ts';
import type { XmlObject } from '../xml.ts';
import { checkDryRun, dryRunCheck } from '../dry-run.ts';
import { tagSet } from './volumes.ts';

function restoreXml(r: FastRestore): XmlObject {
  return {
    snapshotId: r.snapshotId,
    availabilityZone: r.zone,
    state: r.state,
    stateTransitionReason:
      r.state === 'disabling' ? 'Client.UserInitiated' : 'Client.UserInitiated - Lifecycle state transition',
    ownerId: r.ownerId,
    enablingTime: r.enablingTime,
    optimizingTime: r.enabledTime ?? undefined,
    enabledTime: r.enabledTime ?? undefined,
    disablingTime: r.disablingTime,
  };
}

function changeXml(change: FastRestoreChange): XmlObject {
  const failedSnapshots = [...new Set(change.unsuccessful.map((f) => f.snapshotId))];
  return {
    successful: change.successful.map(restoreXml),
    unsuccessful: failedSnapshots.map((snapshotId) => ({
      snapshotId,
      fastSnapshotRestoreStateErrorSet: change.unsuccessful
        .filter((f) => f.snapshotId === snapshotId)
        .map((f) => ({ availabilityZone: f.zone, error: { code: f.code, message: f.message } })),
    })),
  };
}

function changeAction(name: string, on: boolean, notes = ''): Ec2Action {
  return defineAction({
    name,
    params: ['AvailabilityZone.N', 'SourceSnapshotId.N', 'DryRun'],
    notes,
    async run(ctx, params) {
      const targets = {
        zones: params.list('AvailabilityZone'),
        snapshotIds: params.list('SourceSnapshotId'),
      };
      const { fastRestores } = ctx.cloud.ebs;
      return changeXml(await fastRestores.change(ctx.accountId, on, targets, dryRunCheck(ctx, params)));
    },
  });
}

/** EC2 EnableFastSnapshotRestores. */
export const enableFastSnapshotRestores = changeAction(
  'EnableFastSnapshotRestores',
  true,
  'enabled at once: pool snapshots restore in O(1); volumes of an archived one hydrate fully before available',
);

/** EC2 DisableFastSnapshotRestores. */
export const disableFastSnapshotRestores = changeAction('DisableFastSnapshotRestores', false);

/** EC2 DescribeFastSnapshotRestores. */
export const describeFastSnapshotRestores = defineAction({
  name: 'DescribeFastSnapshotRestores',
  params: ['Filter.N', 'MaxResults', 'NextToken', 'DryRun'],
  async run(ctx, params) {
    const request = { filters: params.filters(), ...params.page() };
    checkDryRun(ctx, params);
    const page = await ctx.cloud.ebs.fastRestores.describe(ctx.accountId, request);
    return { fastSnapshotRestoreSet: page.items.map(restoreXml), nextToken: page.nextToken };
  },
});

const tierFields: FilterFields<Snapshot> = {
  'snapshot-id': (s) => s.row.id,
  'volume-id': (s) => s.row.volume_id,
  'last-tiering-operation': () => [],
};

/** EC2 DescribeSnapshotTierStatus: the caller's snapshots, all in the standard tier. */
export const describeSnapshotTierStatus = defineAction({
  name: 'DescribeSnapshotTierStatus',
  params: ['Filter.N', 'MaxResults', 'NextToken', 'DryRun'],
  notes: 'every snapshot is standard tier; none was ever archived to an EC2 tier',
  async run(ctx, params) {
    const filters = params.filters();
    const keep = compileFilters(filters, tierFields, (s) => s.tags);
    const request = {
      snapshotIds: [],
      ownerIds: ['self'],
      restorableByUserIds: [],
      filters: [],
      ...params.page(),
    };
    checkDryRun(ctx, params);
    const page = await ctx.cloud.ebs.snapshots.describe(ctx.accountId, request);
    return {
      snapshotTierStatusSet: page.items.filter(keep).map((s) => ({
        snapshotId: s.row.id,
        volumeId: s.row.volume_id,
        status: s.row.state,
        ownerId: s.row.account_id,
        tagSet: tagSet(s.tags),
        storageTier: 'standard',
      })),
      nextToken: page.nextToken,
    };
  },
});

/** The snapshot-restore actions, for the registry. */
export const snapshotRestoreActions = [
  describeFastSnapshotRestores,
  enableFastSnapshotRestores,
  disableFastSnapshotRestores,
  describeSnapshotTierStatus,
] as const;
