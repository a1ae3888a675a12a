import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstFree, inRange, ipv4ToNumber, numberToIpv4 } from './address-pool.ts';
import { autoAssignedRange, elasticRange, publicDnsName } from './public-addresses.ts';

test('the two ranges split 127.100.0.0/16 and do not overlap', () => {
  assert.ok(inRange('127.100.0.7', autoAssignedRange));
  assert.ok(!inRange('127.100.0.7', elasticRange));
  assert.ok(inRange('127.100.200.1', elasticRange));
  assert.ok(ipv4ToNumber(autoAssignedRange.last) < ipv4ToNumber(elasticRange.first));
  assert.ok(!inRange('not an ip', elasticRange));
  assert.equal(numberToIpv4(ipv4ToNumber('127.100.255.254')), '127.100.255.254');
});

test('firstFree skips .0 and .255, starts at the cursor, wraps, and is exhausted cleanly', () => {
  const range = { first: '127.100.0.254', last: '127.100.1.2' };
  const used = new Set<string>();
  const taken: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const ip = firstFree(range, used, cursor);
    if (ip === undefined) break;
    used.add(ip);
    taken.push(ip);
    cursor = numberToIpv4(ipv4ToNumber(ip) + 1);
  }
  assert.deepEqual(taken, ['127.100.0.254', '127.100.1.1', '127.100.1.2']);
  used.delete('127.100.0.254');
  assert.equal(firstFree(range, used, '127.100.1.2'), '127.100.0.254', 'wraps around to a freed address');
  assert.equal(firstFree(range, new Set(), '127.100.1.1'), '127.100.1.1');
});

test('public DNS names follow EC2: compute-1 in us-east-1, REGION.compute elsewhere', () => {
  assert.equal(publicDnsName('127.100.0.7', 'us-east-1'), 'ec2-127-100-0-7.compute-1.amazonaws.com');
  assert.equal(publicDnsName('127.100.0.7', 'eu-west-1'), 'ec2-127-100-0-7.eu-west-1.compute.amazonaws.com');
});
