import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QueryParams } from './query-params.ts';
import { ApiError } from '../errors.ts';
import { renderEc2Response } from './xml.ts';

const params = QueryParams.parse(
  [
    'Size=8',
    'Encrypted=TRUE',
    'VolumeId.2=vol-b',
    'VolumeId.1=vol-a',
    'VolumeId.10=vol-c',
    'Filter.1.Name=status',
    'Filter.1.Value.1=available',
    'Filter.1.Value.2=in-use',
    'Filter.2.Name=tag%3AName',
    'Filter.2.Value.1=web*',
    'TagSpecification.1.ResourceType=volume',
    'TagSpecification.1.Tag.1.Key=env',
    'TagSpecification.1.Tag.1.Value=prod',
    'TagSpecification.1.Tag.2.Key=empty',
    'MaxResults=50',
    'NextToken=abc',
  ].join('&'),
);

function apiError(code: string, message: string): (error: unknown) => boolean {
  return (error) => error instanceof ApiError && error.code === code && error.message === message;
}

test('scalars, lists, filters, tag specifications and paging read as EC2 sends them', () => {
  assert.equal(params.int('Size', { min: 1, max: 16384 }), 8);
  assert.equal(params.boolean('Encrypted'), true);
  assert.equal(params.string('Iops'), undefined);
  assert.deepEqual(params.list('VolumeId'), ['vol-a', 'vol-b', 'vol-c']);
  assert.deepEqual(params.filters(), [
    { name: 'status', values: ['available', 'in-use'] },
    { name: 'tag:Name', values: ['web*'] },
  ]);
  assert.deepEqual(params.tagSpecifications(), [
    {
      resourceType: 'volume',
      tags: [
        { key: 'env', value: 'prod' },
        { key: 'empty', value: '' },
      ],
    },
  ]);
  assert.deepEqual(params.page(), { maxResults: 50, nextToken: 'abc' });
  assert.deepEqual(params.list('SnapshotId'), []);
});

test('bad or missing values name the parameter, the expectation and what came', () => {
  assert.throws(
    () => params.int('Size', { min: 10, max: 20 }),
    apiError(
      'InvalidParameterValue',
      'Value (8) for parameter Size is invalid. Expected: an integer from 10 to 20.',
    ),
  );
  assert.throws(
    () => params.requiredString('AvailabilityZone'),
    apiError('MissingParameter', 'The request must contain the parameter AvailabilityZone'),
  );
  const bad = QueryParams.parse('Filter.1.Value.1=x&Size=8GiB&DryRun=yes');
  assert.throws(
    () => bad.filters(),
    apiError('MissingParameter', 'The request must contain the parameter Filter.1.Name'),
  );
  assert.throws(
    () => bad.int('Size'),
    apiError('InvalidParameterValue', 'Value (8GiB) for parameter Size is invalid. Expected: an integer.'),
  );
  assert.throws(
    () => bad.enumOf('DryRun', ['true', 'false']),
    apiError(
      'InvalidParameterValue',
      'Value (yes) for parameter DryRun is invalid. Expected: one of true, false.',
    ),
  );
  assert.throws(
    () => QueryParams.parse('VolumeId.99999999999999999999=vol-a').list('VolumeId'),
    (error) => error instanceof ApiError && error.code === 'InvalidParameterValue',
  );
  assert.throws(
    () => QueryParams.parse('TagSpecification.1.ResourceType=volume').tagSpecifications(),
    apiError('InvalidParameterValue', 'Tag specification must have at least one tag'),
  );
});

test('list indexes may start anywhere, 0 included (libcloud sends 0), and order by index', () => {
  const zeroBased = QueryParams.parse(
    'ResourceId.1=vol-b&ResourceId.0=vol-a&Tag.0.Key=k0&Tag.0.Value=v0&Tag.1.Key=k1&Filter.0.Name=status&Filter.0.Value.0=ok',
  );
  assert.deepEqual(zeroBased.list('ResourceId'), ['vol-a', 'vol-b']);
  assert.deepEqual(zeroBased.tags(), [
    { key: 'k0', value: 'v0' },
    { key: 'k1', value: '' },
  ]);
  assert.deepEqual(zeroBased.filters(), [{ name: 'status', values: ['ok'] }]);
});

test('results render as EC2 XML: sets of items, booleans, dates, escaping, omitted nulls', () => {
  const xml = renderEc2Response('DescribeThings', 'req-1', {
    thingSet: [
      { thingId: 'a&b', encrypted: false, size: 8, createTime: new Date(0), kmsKeyId: undefined, tagSet: [] },
    ],
  });
  assert.equal(
    xml,
    '<?xml version="1.0" encoding="UTF-8"?>\n<DescribeThingsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">' +
      '<requestId>req-1</requestId><thingSet><item><thingId>a&amp;b</thingId><encrypted>false</encrypted><size>8</size>' +
      '<createTime>1970-01-01T00:00:00.000Z</createTime><tagSet></tagSet></item></thingSet></DescribeThingsResponse>',
  );
});
