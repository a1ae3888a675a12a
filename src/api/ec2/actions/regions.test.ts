import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { DescribeAvailabilityZonesCommand, DescribeRegionsCommand } from '@aws-sdk/client-ec2';
import { startTestDaemon } from '../../testing/test-daemon.ts';
import type { TestDaemon } from '../../testing/test-daemon.ts';

let strata: TestDaemon;
before(async () => {
  strata = await startTestDaemon({ region: 'eu-central-1', zones: ['eu-central-1a', 'eu-central-1b'] });
});
after(() => strata.close());

test('DescribeRegions lists the served region with its endpoint', async () => {
  const out = await strata.ec2().send(new DescribeRegionsCommand({}));
  assert.deepEqual(out.Regions, [
    {
      RegionName: 'eu-central-1',
      Endpoint: new URL(strata.endpoint).host,
      OptInStatus: 'opt-in-not-required',
    },
  ]);
  const none = await strata
    .ec2()
    .send(new DescribeRegionsCommand({ Filters: [{ Name: 'region-name', Values: ['us-*'] }] }));
  assert.deepEqual(none.Regions, []);
  await assert.rejects(strata.ec2().send(new DescribeRegionsCommand({ RegionNames: ['mars-north-1'] })), {
    name: 'InvalidParameterValue',
    message: 'Invalid region: mars-north-1',
  });
});

test('DescribeAvailabilityZones honours names, ids and filters', async () => {
  const ec2 = strata.ec2();
  const all = await ec2.send(new DescribeAvailabilityZonesCommand({}));
  assert.deepEqual(
    all.AvailabilityZones?.map((zone) => [
      zone.ZoneName,
      zone.ZoneId,
      zone.State,
      zone.RegionName,
      zone.ZoneType,
    ]),
    [
      ['eu-central-1a', 'euc1-az1', 'available', 'eu-central-1', 'availability-zone'],
      ['eu-central-1b', 'euc1-az2', 'available', 'eu-central-1', 'availability-zone'],
    ],
  );
  const byFilter = await ec2.send(
    new DescribeAvailabilityZonesCommand({
      Filters: [
        { Name: 'zone-name', Values: ['*b'] },
        { Name: 'state', Values: ['available'] },
      ],
    }),
  );
  assert.deepEqual(
    byFilter.AvailabilityZones?.map((zone) => zone.ZoneName),
    ['eu-central-1b'],
  );
  const byId = await ec2.send(new DescribeAvailabilityZonesCommand({ ZoneIds: ['euc1-az1'] }));
  assert.deepEqual(
    byId.AvailabilityZones?.map((zone) => zone.ZoneName),
    ['eu-central-1a'],
  );
  await assert.rejects(ec2.send(new DescribeAvailabilityZonesCommand({ ZoneNames: ['eu-central-1z'] })), {
    name: 'InvalidParameterValue',
    message: 'Invalid availability zone: [eu-central-1z]',
  });
  await assert.rejects(
    ec2.send(new DescribeAvailabilityZonesCommand({ Filters: [{ Name: 'colour', Values: ['x'] }] })),
    {
      name: 'InvalidParameterValue',
      message: "The filter 'colour' is invalid",
    },
  );
});

test('DryRun answers DryRunOperation and changes nothing', async () => {
  await assert.rejects(
    strata.ec2().send(new DescribeAvailabilityZonesCommand({ DryRun: true })),
    (error: Error & { $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(error.name, 'DryRunOperation');
      assert.equal(error.$metadata?.httpStatusCode, 412);
      return true;
    },
  );
});
