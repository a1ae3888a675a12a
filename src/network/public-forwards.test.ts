// Which ports of an instance's public address are forwarded: rules that name the host's client address
// (127.0.0.1) only, group pairs never, and ranges bounded with the common service ports first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIpv4 } from './frames.ts';
import { PUBLIC_FORWARDS_MAX, publicPorts } from './public-forwards.ts';
import { parseCidr, type InterfacePolicy, type PermissionRule } from './security-filter.ts';

const rule = (
  protocol: PermissionRule['protocol'],
  fromPort: number,
  toPort: number,
  cidrs: string[],
  groupIds: string[] = [],
): PermissionRule => ({
  protocol,
  fromPort,
  toPort,
  cidrs: cidrs.map((text) => parseCidr(text, parseIpv4)!),
  groupIds,
});
const policy = (...ingress: PermissionRule[]): InterfacePolicy => ({
  groupIds: ['sg-1'],
  ingress,
  egress: [],
});

test('a rule whose CIDR holds 127.0.0.1 forwards its ports; a VPC CIDR or a group pair does not', () => {
  assert.deepEqual(
    publicPorts(
      policy(
        rule('tcp', 22, 22, ['0.0.0.0/0']),
        rule('udp', 53, 53, ['127.0.0.1/32']),
        rule('tcp', 8080, 8080, ['172.31.0.0/16']),
        rule('tcp', 9000, 9000, [], ['sg-1']),
        rule('icmp', -1, -1, ['0.0.0.0/0']),
      ),
    ),
    [
      { protocol: 'tcp', port: 22 },
      { protocol: 'udp', port: 53 },
    ],
  );
  assert.deepEqual(publicPorts(policy()), [], 'no rules, no forwards');
});

test('a wide range is bounded, and the common ports inside it come first', () => {
  const all = publicPorts(policy(rule('all', -1, -1, ['0.0.0.0/0'])));
  assert.equal(all.length, PUBLIC_FORWARDS_MAX);
  for (const port of [22, 80, 443, 3389])
    assert.ok(
      all.some((p) => p.protocol === 'tcp' && p.port === port),
      `tcp ${port} is forwarded`,
    );
  const range = publicPorts(policy(rule('tcp', 1000, 9000, ['10.0.0.0/8', '127.0.0.0/8'])), 4);
  assert.deepEqual(
    range.map((p) => p.port),
    [3389, 5432, 8080, 8443],
    'the common ports inside the range take the bounded places',
  );
  const plain = publicPorts(policy(rule('udp', 20000, 20100, ['0.0.0.0/0'])), 3);
  assert.deepEqual(
    plain.map((p) => `${p.protocol}/${p.port}`),
    ['udp/20000', 'udp/20001', 'udp/20002'],
    'then the range from its start',
  );
});
