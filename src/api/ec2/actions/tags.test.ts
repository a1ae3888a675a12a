// Tags through the AWS SDK: CreateTags/DeleteTags/DescribeTags on volumes and snapshots, EC2's limits and
// errors, filters and paging, and account isolation.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateSnapshotCommand,
  CreateTagsCommand,
  CreateVolumeCommand,
  DeleteTagsCommand,
  DescribeTagsCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { startTestDaemon, type TestDaemon } from '../../testing/test-daemon.ts';
import { expectEc2Error } from './ebs-test-helpers.ts';

let strata: TestDaemon;
let ec2: EC2Client;
let vol: string;
let snap: string;

before(async () => {
  strata = await startTestDaemon();
  ec2 = strata.ec2();
  vol = (await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }))).VolumeId!;
  await strata.cloud.ebs.idle();
  snap = (await ec2.send(new CreateSnapshotCommand({ VolumeId: vol }))).SnapshotId!;
  await strata.cloud.ebs.idle();
});
after(() => strata.close());

async function tagsOf(resourceId: string): Promise<Record<string, string>> {
  const out = await ec2.send(
    new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [resourceId] }] }),
  );
  return Object.fromEntries((out.Tags ?? []).map((t) => [t.Key!, t.Value!]));
}

test('CreateTags on several resource types at once; overwrite; DescribeTags reports resource types', async () => {
  await ec2.send(
    new CreateTagsCommand({ Resources: [vol, snap], Tags: [{ Key: 'env', Value: 'dev' }, { Key: 'empty' }] }),
  );
  await ec2.send(new CreateTagsCommand({ Resources: [vol], Tags: [{ Key: 'env', Value: 'prod' }] }));
  assert.deepEqual(await tagsOf(vol), { empty: '', env: 'prod' });
  assert.deepEqual(await tagsOf(snap), { empty: '', env: 'dev' });
  const types = await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'key', Values: ['env'] }] }));
  assert.deepEqual(
    types.Tags?.map((t) => [t.ResourceId, t.ResourceType]).sort(),
    [
      [snap, 'snapshot'],
      [vol, 'volume'],
    ].sort(),
  );
  const byType = await ec2.send(
    new DescribeTagsCommand({
      Filters: [
        { Name: 'resource-type', Values: ['snapshot'] },
        { Name: 'value', Values: ['d?v'] },
      ],
    }),
  );
  assert.deepEqual(
    byType.Tags?.map((t) => t.ResourceId),
    [snap],
  );
});

test('DeleteTags: by key and value, by key alone, and all tags', async () => {
  await ec2.send(
    new CreateTagsCommand({
      Resources: [vol],
      Tags: [
        { Key: 'a', Value: '1' },
        { Key: 'b', Value: '2' },
        { Key: 'c', Value: '3' },
      ],
    }),
  );
  await ec2.send(new DeleteTagsCommand({ Resources: [vol], Tags: [{ Key: 'a', Value: 'not-1' }] }));
  assert.equal((await tagsOf(vol)).a, '1', 'a non-matching value deletes nothing');
  await ec2.send(new DeleteTagsCommand({ Resources: [vol], Tags: [{ Key: 'a', Value: '1' }, { Key: 'b' }] }));
  const left = await tagsOf(vol);
  assert.equal(left.a, undefined);
  assert.equal(left.b, undefined);
  assert.equal(left.c, '3');
  await ec2.send(new DeleteTagsCommand({ Resources: [vol] }));
  assert.deepEqual(await tagsOf(vol), {});
});

test('limits and errors: 50 tags, key/value lengths, aws: prefix, bad ids, missing resources', async () => {
  const fifty = Array.from({ length: 50 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
  await ec2.send(new DeleteTagsCommand({ Resources: [snap] }));
  await ec2.send(new CreateTagsCommand({ Resources: [snap], Tags: fifty }));
  await expectEc2Error(
    ec2.send(new CreateTagsCommand({ Resources: [snap], Tags: [{ Key: 'one-more', Value: 'v' }] })),
    'TagLimitExceeded',
  );
  await ec2.send(
    new CreateTagsCommand({
      Resources: [snap],
      Tags: [{ Key: 'k0', Value: 'overwrite is fine at the limit' }],
    }),
  );
  await ec2.send(new DeleteTagsCommand({ Resources: [snap] }));
  await expectEc2Error(
    ec2.send(new CreateTagsCommand({ Resources: [vol], Tags: [{ Key: 'k'.repeat(129), Value: 'v' }] })),
    'InvalidParameterValue',
  );
  await expectEc2Error(
    ec2.send(new CreateTagsCommand({ Resources: [vol], Tags: [{ Key: 'k', Value: 'v'.repeat(257) }] })),
    'InvalidParameterValue',
  );
  await ec2.send(
    new CreateTagsCommand({ Resources: [vol], Tags: [{ Key: 'k'.repeat(128), Value: 'v'.repeat(256) }] }),
  );
  await expectEc2Error(
    ec2.send(new CreateTagsCommand({ Resources: [vol], Tags: [{ Key: 'aws:owner', Value: 'v' }] })),
    'InvalidParameterValue',
  );
  await expectEc2Error(
    ec2.send(new CreateTagsCommand({ Resources: ['bogus-123'], Tags: [{ Key: 'k', Value: 'v' }] })),
    'InvalidID',
  );
  await expectEc2Error(
    ec2.send(
      new CreateTagsCommand({ Resources: ['vol-0123456789abcdef0'], Tags: [{ Key: 'k', Value: 'v' }] }),
    ),
    'InvalidVolume.NotFound',
  );
  await expectEc2Error(
    ec2.send(new CreateTagsCommand({ Resources: [vol], Tags: [{ Key: 'k', Value: 'v' }], DryRun: true })),
    'DryRunOperation',
  );
  await expectEc2Error(
    ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'bogus', Values: ['x'] }] })),
    'InvalidParameterValue',
  );
});

test('another account neither sees nor changes the tags, and its resources look missing', async () => {
  const mallory = strata.ec2(await strata.createAccount());
  await ec2.send(new CreateTagsCommand({ Resources: [vol], Tags: [{ Key: 'secret', Value: 's' }] }));
  assert.equal((await mallory.send(new DescribeTagsCommand({}))).Tags?.length, 0);
  await expectEc2Error(
    mallory.send(new CreateTagsCommand({ Resources: [vol], Tags: [{ Key: 'k', Value: 'v' }] })),
    'InvalidVolume.NotFound',
  );
  await expectEc2Error(mallory.send(new DeleteTagsCommand({ Resources: [vol] })), 'InvalidVolume.NotFound');
  assert.equal((await tagsOf(vol)).secret, 's');
});

test('DescribeTags pages with MaxResults (5..1000)', async () => {
  const many = Array.from({ length: 12 }, (_, i) => ({
    Key: `page-${String(i).padStart(2, '0')}`,
    Value: 'x',
  }));
  await ec2.send(new CreateTagsCommand({ Resources: [snap], Tags: many }));
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const out = await ec2.send(
      new DescribeTagsCommand({
        Filters: [{ Name: 'key', Values: ['page-*'] }],
        MaxResults: 5,
        NextToken: token,
      }),
    );
    keys.push(...(out.Tags ?? []).map((t) => t.Key!));
    token = out.NextToken;
  } while (token);
  assert.deepEqual(
    keys,
    many.map((t) => t.Key),
  );
  await expectEc2Error(ec2.send(new DescribeTagsCommand({ MaxResults: 4 })), 'InvalidParameterValue');
  await expectEc2Error(ec2.send(new DescribeTagsCommand({ MaxResults: 1001 })), 'InvalidParameterValue');
});
