// Parameters an action does not read are refused by name, before the action runs; the ones it declares
// (lists, structures, members) pass. End to end with the AWS SDK, as users meet it.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { EC2Client, DescribeVolumesCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { QueryParams } from './query-params.ts';
import { defineAction } from './action.ts';
import { undeclaredParam } from './declared-params.ts';
import { startTestDaemon, type TestDaemon } from '../testing/test-daemon.ts';

const action = defineAction({
  name: 'DescribeThings',
  params: ['ThingId.N', 'Filter.N', 'Placement.AvailabilityZone', 'DryRun'],
  run: () => Promise.resolve({}),
});

function first(entries: Record<string, string>): string | undefined {
  return undeclaredParam(action, new QueryParams(Object.entries(entries)));
}

test('undeclaredParam: declared lists, members and plain names pass; anything else is named', () => {
  const base = { Action: 'DescribeThings', Version: '2016-11-15' };
  assert.equal(first({ ...base, 'ThingId.1': 'a', 'ThingId.12': 'b', DryRun: 'true' }), undefined);
  assert.equal(first({ ...base, 'Filter.1.Name': 'n', 'Filter.1.Value.2': 'v' }), undefined);
  assert.equal(first({ ...base, 'Placement.AvailabilityZone': 'us-east-1a' }), undefined);
  assert.equal(first({ ...base, KeyName: 'mine' }), 'KeyName');
  assert.equal(first({ ...base, 'Placement.Tenancy': 'dedicated' }), 'Placement.Tenancy');
  assert.equal(first({ ...base, 'ThingId.x': 'a' }), 'ThingId.x', '.N is a number');
  assert.equal(first({ ...base, ThingIds: 'a' }), 'ThingIds', 'a prefix is not a match');
});

let strata: TestDaemon;
before(async () => {
  strata = await startTestDaemon();
});
after(() => strata.close());

test('RunInstances with a parameter Strata does not read: UnknownParameter naming it, nothing launched', async () => {
  const ec2 = new EC2Client({
    endpoint: strata.endpoint,
    region: 'us-east-1',
    credentials: strata.admin,
  });
  await assert.rejects(
    ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-0123456789abcdef0',
        MinCount: 1,
        MaxCount: 1,
        HibernationOptions: { Configured: true },
      }),
    ),
    (error: Error) =>
      error.name === 'UnknownParameter' &&
      error.message.startsWith('The parameter HibernationOptions.Configured is not recognized: Strata'),
  );
  // The SDK's own additions (ClientToken) and the declared ones pass.
  const volumes = await ec2.send(new DescribeVolumesCommand({ MaxResults: 5 }));
  assert.deepEqual(volumes.Volumes, []);
});
