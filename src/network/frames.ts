// Ethernet, ARP, IPv4, TCP and UDP headers as the virtual switch reads and rewrites them, in place.
// Only what switching, filtering and the metadata rewrite need; every read is bounds-checked first.
import { assert } from '../base/assert.ts';

/** Ethernet header bytes (no VLAN tags: QEMU's virtio-net does not add them). */
export const ETHERNET_HEADER_BYTES = 14;
/** EtherType of IPv4. */
export const ETHERTYPE_IPV4 = 0x0800;
/** EtherType of ARP. */
export const ETHERTYPE_ARP = 0x0806;
/** IPv4 protocol numbers the filter knows by name. */
export const IP_PROTOCOL = { icmp: 1, tcp: 6, udp: 17 } as const;

const ARP_BYTES = 28;
const IPV4_HEADER_BYTES_MIN = 20;

/** An IPv4 address as an unsigned 32-bit number. */
export type Ipv4 = number;

/** Parses dotted-quad text; undefined for anything else. */
export function parseIpv4(text: string): Ipv4 | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part) || Number(part) > 255) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}

/** Dotted-quad text of an address. */
export function formatIpv4(address: Ipv4): string {
  assert(Number.isInteger(address) && address >= 0 && address <= 0xffffffff, 'formatIpv4: not an address');
  return [address >>> 24, (address >>> 16) & 255, (address >>> 8) & 255, address & 255].join('.');
}

/** A MAC address as 12 lowercase hex digits, the form the switch keys its tables by. */
export type Mac = string;

/** Parses `52:54:00:12:34:56` into the switch's key form; undefined for anything else. */
export function parseMac(text: string): Mac | undefined {
  return /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(text) ? text.replaceAll(':', '').toLowerCase() : undefined;
}

/** What the switch needs to know about one frame; offsets point into the frame's own buffer. */
export interface FrameView {
  readonly destinationMac: Mac;
  readonly sourceMac: Mac;
  readonly etherType: number;
  /** Present for well-formed ARP over Ethernet/IPv4. */
  readonly arp?: { readonly operation: number; readonly senderIp: Ipv4; readonly targetIp: Ipv4 };
  /** Present for well-formed IPv4 (first fragment or unfragmented for ports). */
  readonly ipv4?: Ipv4View;
}

/** The IPv4 header fields the switch reads. */
export interface Ipv4View {
  readonly protocol: number;
  readonly source: Ipv4;
  readonly destination: Ipv4;
  readonly ttl: number;
  /** Offset of the transport header in the frame. */
  readonly transportOffset: number;
  /** TCP/UDP ports, when the frame carries the start of a TCP or UDP header. */
  readonly ports?: { readonly source: number; readonly destination: number };
  /** TCP flags byte (SYN = 0x02, ACK = 0x10, FIN = 0x01, RST = 0x04). */
  readonly tcpFlags?: number;
}

/** Reads a frame's headers; undefined when it is too short or malformed to switch. */
export function viewFrame(frame: Buffer): FrameView | undefined {
  if (frame.length < ETHERNET_HEADER_BYTES) return undefined;
  const etherType = frame.readUInt16BE(12);
  const view = {
    destinationMac: frame.toString('hex', 0, 6),
    sourceMac: frame.toString('hex', 6, 12),
    etherType,
  };
  if (etherType === ETHERTYPE_ARP) {
    const arp = viewArp(frame);
    return arp === undefined ? undefined : { ...view, arp };
  }
  if (etherType === ETHERTYPE_IPV4) {
    const ipv4 = viewIpv4(frame);
    return ipv4 === undefined ? undefined : { ...view, ipv4 };
  }
  return view;
}

function viewArp(frame: Buffer): FrameView['arp'] {
  const at = ETHERNET_HEADER_BYTES;
  if (frame.length < at + ARP_BYTES) return undefined;
  // Ethernet (1) / IPv4 (0x0800) with 6-byte hardware and 4-byte protocol addresses only.
  if (frame.readUInt16BE(at) !== 1 || frame.readUInt16BE(at + 2) !== ETHERTYPE_IPV4) return undefined;
  if (frame[at + 4] !== 6 || frame[at + 5] !== 4) return undefined;
  return {
    operation: frame.readUInt16BE(at + 6),
    senderIp: frame.readUInt32BE(at + 14),
    targetIp: frame.readUInt32BE(at + 24),
  };
}

function viewIpv4(frame: Buffer): Ipv4View | undefined {
  const at = ETHERNET_HEADER_BYTES;
  if (frame.length < at + IPV4_HEADER_BYTES_MIN || frame[at]! >> 4 !== 4) return undefined;
  const headerBytes = (frame[at]! & 0x0f) * 4;
  const totalBytes = frame.readUInt16BE(at + 2);
  if (headerBytes < IPV4_HEADER_BYTES_MIN || totalBytes < headerBytes || at + totalBytes > frame.length) {
    return undefined;
  }
  const protocol = frame[at + 9]!;
  const transportOffset = at + headerBytes;
  const fragmentOffset = frame.readUInt16BE(at + 6) & 0x1fff;
  const base = {
    protocol,
    source: frame.readUInt32BE(at + 12),
    destination: frame.readUInt32BE(at + 16),
    ttl: frame[at + 8]!,
    transportOffset,
  };
  const carriesPorts = fragmentOffset === 0 && (protocol === IP_PROTOCOL.tcp || protocol === IP_PROTOCOL.udp);
  const transportBytes = protocol === IP_PROTOCOL.tcp ? 20 : 8;
  if (!carriesPorts || at + totalBytes < transportOffset + transportBytes) return base;
  const ports = {
    source: frame.readUInt16BE(transportOffset),
    destination: frame.readUInt16BE(transportOffset + 2),
  };
  if (protocol === IP_PROTOCOL.udp) return { ...base, ports };
  return { ...base, ports, tcpFlags: frame[transportOffset + 13]! };
}

/** Folds a 16-bit one's-complement checksum after replacing `before` with `after` (RFC 1624, eqn. 3). */
function adjustChecksum(frame: Buffer, offset: number, before: Ipv4, after: Ipv4): void {
  let sum = ~frame.readUInt16BE(offset) & 0xffff;
  sum += ~(before >>> 16) & 0xffff;
  sum += ~before & 0xffff;
  sum += after >>> 16;
  sum += after & 0xffff;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  frame.writeUInt16BE(~sum & 0xffff, offset);
}

/**
 * Replaces the source or destination address of an IPv4 frame in place, keeping the IP header checksum and
 * the TCP or UDP checksum (whose pseudo-header covers the addresses) correct. The frame must have a view.
 */
export function rewriteIpv4Address(
  frame: Buffer,
  view: Ipv4View,
  field: 'source' | 'destination',
  to: Ipv4,
): void {
  const at = ETHERNET_HEADER_BYTES + (field === 'source' ? 12 : 16);
  const from = frame.readUInt32BE(at);
  assert(from === view[field], 'rewriteIpv4Address: view does not match frame');
  adjustChecksum(frame, ETHERNET_HEADER_BYTES + 10, from, to);
  if (view.ports !== undefined) {
    if (view.protocol === IP_PROTOCOL.tcp) adjustChecksum(frame, view.transportOffset + 16, from, to);
    // A UDP checksum of 0 means "none" and stays so.
    else if (frame.readUInt16BE(view.transportOffset + 6) !== 0) {
      adjustChecksum(frame, view.transportOffset + 6, from, to);
    }
  }
  frame.writeUInt32BE(to, at);
}

/** Sets the IPv4 TTL in place, keeping the header checksum correct. */
export function setIpv4Ttl(frame: Buffer, ttl: number): void {
  assert(Number.isInteger(ttl) && ttl >= 0 && ttl <= 255, 'setIpv4Ttl: bad ttl');
  const at = ETHERNET_HEADER_BYTES + 8;
  // TTL shares a 16-bit word with the protocol byte; adjust the checksum over that word.
  const before = frame.readUInt16BE(at);
  const after = (ttl << 8) | (before & 0xff);
  let sum = ~frame.readUInt16BE(ETHERNET_HEADER_BYTES + 10) & 0xffff;
  sum += ~before & 0xffff;
  sum += after;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  frame.writeUInt16BE(~sum & 0xffff, ETHERNET_HEADER_BYTES + 10);
  frame.writeUInt16BE(after, at);
}

/** Sets the Ethernet addresses of a frame in place. */
export function setMacs(frame: Buffer, destination: Mac, source: Mac): void {
  frame.write(destination, 0, 6, 'hex');
  frame.write(source, 6, 6, 'hex');
}

/** The fields of one ARP message over Ethernet/IPv4. */
export interface ArpMessage {
  readonly operation: 1 | 2;
  readonly destinationMac: Mac;
  readonly senderMac: Mac;
  readonly senderIp: Ipv4;
  readonly targetMac: Mac;
  readonly targetIp: Ipv4;
}

/** Builds an ARP frame (request: operation 1, reply: 2). */
export function arpFrame(message: ArpMessage): Buffer {
  const frame = Buffer.alloc(ETHERNET_HEADER_BYTES + ARP_BYTES);
  setMacs(frame, message.destinationMac, message.senderMac);
  frame.writeUInt16BE(ETHERTYPE_ARP, 12);
  const at = ETHERNET_HEADER_BYTES;
  frame.writeUInt16BE(1, at);
  frame.writeUInt16BE(ETHERTYPE_IPV4, at + 2);
  frame[at + 4] = 6;
  frame[at + 5] = 4;
  frame.writeUInt16BE(message.operation, at + 6);
  frame.write(message.senderMac, at + 8, 6, 'hex');
  frame.writeUInt32BE(message.senderIp, at + 14);
  frame.write(message.targetMac, at + 18, 6, 'hex');
  frame.writeUInt32BE(message.targetIp, at + 24);
  return frame;
}

/** Builds the ARP reply to `request` that says its target address is at `answerMac`. */
export function arpReply(request: FrameView, answerMac: Mac): Buffer {
  assert(request.arp !== undefined, 'arpReply: not an ARP frame');
  return arpFrame({
    operation: 2,
    destinationMac: request.sourceMac,
    senderMac: answerMac,
    senderIp: request.arp.targetIp,
    targetMac: request.sourceMac,
    targetIp: request.arp.senderIp,
  });
}
