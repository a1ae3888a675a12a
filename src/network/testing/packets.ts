// Builds well-formed Ethernet frames with correct checksums, and checks them, for the switch's tests.
import {
  arpFrame,
  ETHERNET_HEADER_BYTES,
  ETHERTYPE_IPV4,
  IP_PROTOCOL,
  type Ipv4,
  type Mac,
} from '../frames.ts';

/** One's-complement sum of 16-bit words, folded (the Internet checksum before its final complement). */
function onesSum(data: Buffer, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < data.length; i += 2) sum += data.readUInt16BE(i);
  if (data.length % 2 === 1) sum += data[data.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

function pseudoHeaderSum(source: Ipv4, destination: Ipv4, protocol: number, length: number): number {
  const pseudo = Buffer.alloc(12);
  pseudo.writeUInt32BE(source, 0);
  pseudo.writeUInt32BE(destination, 4);
  pseudo[9] = protocol;
  pseudo.writeUInt16BE(length, 10);
  return onesSum(pseudo);
}

/** What a test packet carries. */
export interface PacketSpec {
  readonly sourceMac: Mac;
  readonly destinationMac: Mac;
  readonly source: Ipv4;
  readonly destination: Ipv4;
  readonly protocol: 'tcp' | 'udp' | 'icmp';
  readonly sourcePort?: number;
  readonly destinationPort?: number;
  readonly ttl?: number;
  readonly tcpFlags?: number;
  readonly payload?: Buffer;
}

/** An Ethernet/IPv4 frame with a TCP, UDP or ICMP echo header and valid checksums. */
export function ipv4Frame(spec: PacketSpec): Buffer {
  const payload = spec.payload ?? Buffer.from('strata');
  const transportBytes = spec.protocol === 'tcp' ? 20 : 8;
  const ipBytes = 20 + transportBytes + payload.length;
  const frame = Buffer.alloc(ETHERNET_HEADER_BYTES + ipBytes);
  frame.write(spec.destinationMac, 0, 6, 'hex');
  frame.write(spec.sourceMac, 6, 6, 'hex');
  frame.writeUInt16BE(ETHERTYPE_IPV4, 12);
  const ip = ETHERNET_HEADER_BYTES;
  frame[ip] = 0x45;
  frame.writeUInt16BE(ipBytes, ip + 2);
  frame[ip + 8] = spec.ttl ?? 64;
  frame[ip + 9] = IP_PROTOCOL[spec.protocol];
  frame.writeUInt32BE(spec.source, ip + 12);
  frame.writeUInt32BE(spec.destination, ip + 16);
  frame.writeUInt16BE(~onesSum(frame.subarray(ip, ip + 20)) & 0xffff, ip + 10);
  const l4 = ip + 20;
  payload.copy(frame, l4 + transportBytes);
  if (spec.protocol === 'icmp') {
    frame[l4] = 8;
    frame.writeUInt16BE(~onesSum(frame.subarray(l4)) & 0xffff, l4 + 2);
    return frame;
  }
  frame.writeUInt16BE(spec.sourcePort ?? 40000, l4);
  frame.writeUInt16BE(spec.destinationPort ?? 80, l4 + 2);
  if (spec.protocol === 'tcp') {
    frame[l4 + 12] = 5 << 4;
    frame[l4 + 13] = spec.tcpFlags ?? 0x02;
  } else frame.writeUInt16BE(transportBytes + payload.length, l4 + 4);
  const checksumAt = l4 + (spec.protocol === 'tcp' ? 16 : 6);
  const base = pseudoHeaderSum(spec.source, spec.destination, IP_PROTOCOL[spec.protocol], ipBytes - 20);
  frame.writeUInt16BE(~onesSum(frame.subarray(l4), base) & 0xffff || 0xffff, checksumAt);
  return frame;
}

/** Whether a frame's IPv4 header checksum and TCP/UDP checksum verify. */
export function checksumsValid(frame: Buffer): boolean {
  const ip = ETHERNET_HEADER_BYTES;
  const ipBytes = frame.readUInt16BE(ip + 2);
  if (onesSum(frame.subarray(ip, ip + 20)) !== 0xffff) return false;
  const protocol = frame[ip + 9]!;
  if (protocol !== IP_PROTOCOL.tcp && protocol !== IP_PROTOCOL.udp) return true;
  const base = pseudoHeaderSum(
    frame.readUInt32BE(ip + 12),
    frame.readUInt32BE(ip + 16),
    protocol,
    ipBytes - 20,
  );
  return onesSum(frame.subarray(ip + 20, ip + ipBytes), base) === 0xffff;
}

/** An ARP request from `senderMac`/`senderIp` for `targetIp`. */
export function arpRequest(senderMac: Mac, senderIp: Ipv4, targetIp: Ipv4): Buffer {
  const broadcast = 'ffffffffffff';
  return arpFrame({
    operation: 1,
    destinationMac: broadcast,
    senderMac,
    senderIp,
    targetMac: '000000000000',
    targetIp,
  });
}
