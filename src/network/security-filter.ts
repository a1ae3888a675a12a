// Security groups between instances of one VPC, as EC2 applies them: stateful, allow-only rules. A packet
// that starts a connection needs the sender's egress and the receiver's ingress; replies of a tracked
// connection pass whatever the rules say now.
import { assert } from '../base/assert.ts';
import { limits } from '../base/limits.ts';
import { IP_PROTOCOL, type Ipv4, type Ipv4View } from './frames.ts';

/** An IPv4 CIDR block. */
export interface Cidr {
  readonly network: Ipv4;
  readonly prefixLength: number;
}

/** Parses `a.b.c.d/n` (host bits must be zero, as EC2 requires of rules); undefined for anything else. */
export function parseCidr(text: string, parse: (ip: string) => Ipv4 | undefined): Cidr | undefined {
  const [address, length, extra] = text.split('/');
  if (address === undefined || length === undefined || extra !== undefined || !/^[0-9]{1,2}$/.test(length)) {
    return undefined;
  }
  const network = parse(address);
  const prefixLength = Number(length);
  if (network === undefined || prefixLength > 32) return undefined;
  return (network & cidrMask(prefixLength)) >>> 0 === network ? { network, prefixLength } : undefined;
}

/** The netmask of a prefix length, as an unsigned number. */
export function cidrMask(prefixLength: number): number {
  assert(Number.isInteger(prefixLength) && prefixLength >= 0 && prefixLength <= 32, 'cidrMask: bad length');
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/** Whether `address` lies in `cidr`. */
export function cidrContains(cidr: Cidr, address: Ipv4): boolean {
  return (address & cidrMask(cidr.prefixLength)) >>> 0 === cidr.network;
}

/** One IpPermission: a protocol, a port range (ICMP: type and code, -1 for any) and who it names. */
export interface PermissionRule {
  readonly protocol: 'tcp' | 'udp' | 'icmp' | 'all';
  readonly fromPort: number;
  readonly toPort: number;
  readonly cidrs: readonly Cidr[];
  /** Security group ids: a peer that is a member of any of them matches (a "group pair"). */
  readonly groupIds: readonly string[];
}

/** What the filter knows of one network interface. */
export interface InterfacePolicy {
  readonly groupIds: readonly string[];
  readonly ingress: readonly PermissionRule[];
  readonly egress: readonly PermissionRule[];
}

/** The other end of a packet, as a rule sees it. */
interface Peer {
  readonly address: Ipv4;
  readonly groupIds: readonly string[];
}

function protocolMatches(rule: PermissionRule, packet: Ipv4View): boolean {
  switch (rule.protocol) {
    case 'all':
      return true;
    case 'icmp':
      return packet.protocol === IP_PROTOCOL.icmp;
    case 'tcp':
    case 'udp':
      return (
        packet.protocol === IP_PROTOCOL[rule.protocol] &&
        packet.ports !== undefined &&
        packet.ports.destination >= rule.fromPort &&
        packet.ports.destination <= rule.toPort
      );
  }
}

function ruleAllows(rule: PermissionRule, packet: Ipv4View, peer: Peer): boolean {
  if (!protocolMatches(rule, packet)) return false;
  return (
    rule.cidrs.some((cidr) => cidrContains(cidr, peer.address)) ||
    rule.groupIds.some((groupId) => peer.groupIds.includes(groupId))
  );
}

/** Whether a new connection from `sender` to `receiver` is allowed by both ends' groups. */
export function connectionAllowed(
  packet: Ipv4View,
  sender: InterfacePolicy,
  receiver: InterfacePolicy,
): boolean {
  const toReceiver: Peer = { address: packet.destination, groupIds: receiver.groupIds };
  const fromSender: Peer = { address: packet.source, groupIds: sender.groupIds };
  return (
    sender.egress.some((rule) => ruleAllows(rule, packet, toReceiver)) &&
    receiver.ingress.some((rule) => ruleAllows(rule, packet, fromSender))
  );
}

function flowKey(protocol: number, from: Ipv4, fromPort: number, to: Ipv4, toPort: number): string {
  return `${protocol}|${from}|${fromPort}|${to}|${toPort}`;
}

/** Connections seen, so replies pass. Bounded: past `flowsMax` the oldest is forgotten. */
export class FlowTable {
  readonly #lastSeenMs = new Map<string, number>();
  readonly #now: () => number;
  readonly #flowsMax: number;

  constructor(now: () => number = Date.now, flowsMax: number = limits.networkFlowsMax) {
    assert(flowsMax > 0, 'FlowTable: flowsMax must be positive');
    this.#now = now;
    this.#flowsMax = flowsMax;
  }

  /** Connections tracked now. */
  get size(): number {
    return this.#lastSeenMs.size;
  }

  /** Whether `packet` belongs to a tracked connection, in either direction; refreshes it if so. */
  admitsTracked(packet: Ipv4View): boolean {
    const ports = packet.ports ?? { source: 0, destination: 0 };
    const forward = flowKey(
      packet.protocol,
      packet.source,
      ports.source,
      packet.destination,
      ports.destination,
    );
    const reverse = flowKey(
      packet.protocol,
      packet.destination,
      ports.destination,
      packet.source,
      ports.source,
    );
    return this.#refresh(forward) || this.#refresh(reverse);
  }

  /** Tracks the connection `packet` starts. */
  track(packet: Ipv4View): void {
    const ports = packet.ports ?? { source: 0, destination: 0 };
    const key = flowKey(packet.protocol, packet.source, ports.source, packet.destination, ports.destination);
    this.#lastSeenMs.delete(key);
    if (this.#lastSeenMs.size >= this.#flowsMax) {
      const oldest = this.#lastSeenMs.keys().next().value;
      if (oldest !== undefined) this.#lastSeenMs.delete(oldest);
    }
    this.#lastSeenMs.set(key, this.#now());
  }

  #refresh(key: string): boolean {
    const seenMs = this.#lastSeenMs.get(key);
    if (seenMs === undefined) return false;
    const nowMs = this.#now();
    if (nowMs - seenMs > limits.networkFlowIdleMs) {
      this.#lastSeenMs.delete(key);
      return false;
    }
    this.#lastSeenMs.set(key, nowMs);
    return true;
  }
}
