// The EBS control plane on PostgreSQL: the same Kysely queries that run on SQLite (upserts, subqueries,
// row counts, transactions) exercised once end to end.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateSnapshotCommand,
  CreateTagsCommand,
  CreateVolumeCommand,
  DeleteSnapshotCommand,
  DeleteVolumeCommand,
  DescribeSnapshotsCommand,
  DescribeTagsCommand,
  DescribeVolumesCommand,
  ModifySnapshotAttributeCommand,
  ModifyVolumeCommand,
} from '@aws-sdk/client-ec2';
import { postgresSkipReason, startTestDaemon, type TestDaemon } from '../../testing/test-daemon.ts';
import { expectEc2Error } from './ebs-test-helpers.ts';

const skip = postgresSkipReason();
let strata: TestDaemon | undefined;

before(async () => {
  if (skip === undefined) strata = await startTestDaemon({ postgres: true });
});
after(() => strata?.close());

test('volumes, snapshots, sharing, tags and paging on PostgreSQL', { skip }, async () => {
  assert.ok(strata);
  const ec2 = strata.ec2();
  const bobKey = await strata.createAccount('bob');
  const bob = strata.ec2(bobKey);
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) {
    const spec = [{ ResourceType: 'volume' as const, Tags: [{ Key: 'n', Value: String(i) }] }];
    ids.push(
      (
        await ec2.send(
          new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1, TagSpecifications: spec }),
        )
      ).VolumeId!,
    );
  }
  await strata.cloud.ebs.idle();
  const first = await ec2.send(new DescribeVolumesCommand({ MaxResults: 5 }));
  const second = await ec2.send(new DescribeVolumesCommand({ MaxResults: 5, NextToken: first.NextToken }));
  assert.deepEqual(
    [...(first.Volumes ?? []), ...(second.Volumes ?? [])].map((v) => v.VolumeId).sort(),
    [...ids].sort(),
  );
  const tagged = await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'tag:n', Values: ['3'] }] }));
  assert.deepEqual(
    tagged.Volumes?.map((v) => v.VolumeId),
    [ids[3]],
  );
  await ec2.send(new CreateTagsCommand({ Resources: [ids[0]!], Tags: [{ Key: 'n', Value: 'changed' }] }));
  const tags = await ec2.send(
    new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [ids[0]!] }] }),
  );
  assert.deepEqual(
    tags.Tags?.map((t) => t.Value),
    ['changed'],
  );

  const snap = (await ec2.send(new CreateSnapshotCommand({ VolumeId: ids[1] }))).SnapshotId!;
  await strata.cloud.ebs.idle();
  await expectEc2Error(
    bob.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap] })),
    'InvalidSnapshot.NotFound',
  );
  await ec2.send(
    new ModifySnapshotAttributeCommand({
      SnapshotId: snap,
      OperationType: 'add',
      UserIds: [bobKey.accountId],
    }),
  );
  assert.deepEqual(
    (await bob.send(new DescribeSnapshotsCommand({}))).Snapshots?.map((s) => s.SnapshotId),
    [snap],
  );
  await bob.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', SnapshotId: snap }));
  await ec2.send(new ModifyVolumeCommand({ VolumeId: ids[2], Size: 2 }));
  await ec2.send(new DeleteVolumeCommand({ VolumeId: ids[5] }));
  await strata.cloud.ebs.idle();
  assert.equal((await ec2.send(new DescribeVolumesCommand({ VolumeIds: [ids[2]!] }))).Volumes?.[0]?.Size, 2);
  await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snap }));
  assert.equal((await bob.send(new DescribeSnapshotsCommand({}))).Snapshots?.length, 0);
});
