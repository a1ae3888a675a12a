// Fast snapshot restore and snapshot tiers through the AWS SDK: Enable/Disable/DescribeFastSnapshotRestores per
// snapshot and zone (with per-pair failures, as EC2), and DescribeSnapshotTierStatus. The eager restore they
// map to is tested with an archive in cloud/ebs/snapshot-archive.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DescribeFastSnapshotRestoresCommand,
  DescribeSnapshotTierStatusCommand,
  DisableFastSnapshotRestoresCommand,
  EnableFastSnapshotRestoresCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { startTestDaemon, type TestDaemon } from '../../testing/test-daemon.ts';
import { expectEc2Error } from './ebs-test-helpers.ts';
import { snapshotWithData } from './compute-test-helpers.ts';

let strata: TestDaemon;
let ec2: EC2Client;
let snapshotId: string;

before(async () => {
  strata = await startTestDaemon();
  ec2 = strata.ec2();
  snapshotId = await snapshotWithData(strata, ec2, 'fast', 1);
});
after(() => strata.close());

test('fast snapshot restores: enable per zone, describe and filter, failures per pair, disable', async () => {
  const zones = [`${strata.region}a`, `${strata.region}b`];
  const missing = 'snap-0123456789abcdef0';
  const enabled = await ec2.send(
    new EnableFastSnapshotRestoresCommand({
      AvailabilityZones: zones,
      SourceSnapshotIds: [snapshotId, missing],
    }),
  );
  assert.deepEqual(
    enabled.Successful?.map((s) => [s.SnapshotId, s.AvailabilityZone, s.State]),
    zones.map((zone) => [snapshotId, zone, 'enabling']),
  );
  const failure = enabled.Unsuccessful?.[0];
  assert.equal(failure?.SnapshotId, missing);
  assert.deepEqual(
    failure?.FastSnapshotRestoreStateErrors?.map((e) => [e.AvailabilityZone, e.Error?.Code]),
    zones.map((zone) => [zone, 'InvalidSnapshot.NotFound']),
  );
  const described = await ec2.send(new DescribeFastSnapshotRestoresCommand({}));
  assert.deepEqual(
    described.FastSnapshotRestores?.map((r) => [r.AvailabilityZone, r.State, r.OwnerId]),
    zones.map((zone) => [zone, 'enabled', strata.admin.accountId]),
  );
  assert.ok(described.FastSnapshotRestores?.[0]?.EnabledTime instanceof Date);
  const oneZone = await ec2.send(
    new DescribeFastSnapshotRestoresCommand({
      Filters: [{ Name: 'availability-zone', Values: [zones[1]!] }],
    }),
  );
  assert.deepEqual(
    oneZone.FastSnapshotRestores?.map((r) => r.AvailabilityZone),
    [zones[1]],
  );
  const bob = strata.ec2(await strata.createAccount());
  assert.deepEqual((await bob.send(new DescribeFastSnapshotRestoresCommand({}))).FastSnapshotRestores, []);
  const refused = await bob.send(
    new EnableFastSnapshotRestoresCommand({
      AvailabilityZones: [zones[0]!],
      SourceSnapshotIds: [snapshotId],
    }),
  );
  assert.deepEqual(refused.Successful, []);
  await expectEc2Error(
    ec2.send(
      new EnableFastSnapshotRestoresCommand({
        AvailabilityZones: ['mars-1a'],
        SourceSnapshotIds: [snapshotId],
      }),
    ),
    'InvalidZone.NotFound',
  );
  const disabled = await ec2.send(
    new DisableFastSnapshotRestoresCommand({
      AvailabilityZones: [zones[0]!],
      SourceSnapshotIds: [snapshotId],
    }),
  );
  assert.equal(disabled.Successful?.[0]?.State, 'disabling');
  const left = await ec2.send(new DescribeFastSnapshotRestoresCommand({}));
  assert.deepEqual(
    left.FastSnapshotRestores?.map((r) => r.AvailabilityZone),
    [zones[1]],
  );
});

test('DescribeSnapshotTierStatus lists own snapshots in the standard tier, filtered by snapshot-id', async () => {
  const other = await snapshotWithData(strata, ec2, 'tier', 1);
  const all = await ec2.send(new DescribeSnapshotTierStatusCommand({}));
  const ids = all.SnapshotTierStatuses?.map((s) => s.SnapshotId) ?? [];
  assert.ok(ids.includes(snapshotId) && ids.includes(other), JSON.stringify(ids));
  for (const status of all.SnapshotTierStatuses ?? []) {
    assert.equal(status.StorageTier, 'standard');
    assert.equal(status.OwnerId, strata.admin.accountId);
    assert.equal(status.Status, 'completed');
  }
  const one = await ec2.send(
    new DescribeSnapshotTierStatusCommand({ Filters: [{ Name: 'snapshot-id', Values: [other] }] }),
  );
  assert.deepEqual(
    one.SnapshotTierStatuses?.map((s) => s.SnapshotId),
    [other],
  );
});
