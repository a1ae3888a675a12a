// Which ports of an instance's public (loopback) address reach its guest. The host's own client address is
// 127.0.0.1, so an ingress rule forwards its ports when one of its CIDRs contains 127.0.0.1; a group pair
// never names the host. QEMU opens one listener per forwarded port, so ranges are bounded: at most
// PUBLIC_FORWARDS_MAX ports per instance, the well-known service ports first, then the rest in order.
import { parseIpv4 } from './frames.ts';
import { cidrContains, type InterfacePolicy, type PermissionRule } from './security-filter.ts';

/** Forwarded ports per instance, TCP and UDP together (docs/networking.md). */
export const PUBLIC_FORWARDS_MAX = 64;

/** Ports forwarded first when a rule's range is wider than the bound (SSH, HTTP, RDP, databases …). */
const COMMON_PORTS = [22, 80, 443, 3389, 8080, 8443, 5432, 3306, 6379, 27017, 53, 123, 5985, 5986, 9090];

const HOST_CLIENT = parseIpv4('127.0.0.1')!;

/** One public port: the protocol and the port, the same on the host address and in the guest. */
export interface PublicPort {
  readonly protocol: 'tcp' | 'udp';
  readonly port: number;
}

function reachesHost(rule: PermissionRule): boolean {
  return rule.cidrs.some((cidr) => cidrContains(cidr, HOST_CLIENT));
}

function ranges(rule: PermissionRule): { protocol: 'tcp' | 'udp'; from: number; to: number }[] {
  if (rule.protocol === 'all') {
    return [
      { protocol: 'tcp', from: 1, to: 65_535 },
      { protocol: 'udp', from: 1, to: 65_535 },
    ];
  }
  if (rule.protocol === 'icmp') return [];
  return [{ protocol: rule.protocol, from: Math.max(1, rule.fromPort), to: Math.min(65_535, rule.toPort) }];
}

/** The ports the host may reach under `policy`'s ingress rules, bounded and in a stable order. */
export function publicPorts(policy: InterfacePolicy, max: number = PUBLIC_FORWARDS_MAX): PublicPort[] {
  const allowed = policy.ingress.filter(reachesHost).flatMap(ranges);
  const chosen = new Map<string, PublicPort>();
  const add = (protocol: 'tcp' | 'udp', port: number): void => {
    if (chosen.size < max) chosen.set(`${protocol}/${port}`, { protocol, port });
  };
  const inRange = (protocol: 'tcp' | 'udp', port: number): boolean =>
    allowed.some((range) => range.protocol === protocol && port >= range.from && port <= range.to);
  for (const protocol of ['tcp', 'udp'] as const)
    for (const port of COMMON_PORTS) if (inRange(protocol, port)) add(protocol, port);
  for (const range of allowed) {
    for (let port = range.from; port <= range.to && chosen.size < max; port++) add(range.protocol, port);
  }
  return [...chosen.values()].sort((a, b) => a.protocol.localeCompare(b.protocol) || a.port - b.port);
}
