// IPv4 CIDR arithmetic for VPCs and subnets: parsing with EC2's errors, containment, overlap and the
// addresses EC2 reserves in every subnet (network, router .1, DNS .2, future use .3, broadcast).
import { assert } from '../../base/assert.ts';
import { formatIpv4, parseIpv4, type Ipv4 } from '../../network/frames.ts';
import { cidrContains, cidrMask, parseCidr, type Cidr } from '../../network/security-filter.ts';
import { CloudError, type ErrorCode } from '../errors.ts';

export type { Cidr };

/** Parses a block with host bits zero, or throws `code` (InvalidVpc.Range, InvalidSubnet.Range …) naming it. */
export function parseBlock(text: string, code: ErrorCode): Cidr {
  const cidr = parseCidr(text, parseIpv4);
  if (cidr === undefined) {
    throw new CloudError('InvalidParameterValue', {
      message: `Value (${text}) for parameter cidrBlock is invalid. This is not a valid CIDR block.`,
    });
  }
  if (cidr.prefixLength < 16 || cidr.prefixLength > 28) throw new CloudError(code, { cidr: text });
  return cidr;
}

/** `a.b.c.d/n`. */
export function formatBlock(cidr: Cidr): string {
  return `${formatIpv4(cidr.network)}/${cidr.prefixLength}`;
}

/** The block of stored text (the database holds only blocks that were parsed on the way in). */
export function storedBlock(text: string): Cidr {
  const cidr = parseCidr(text, parseIpv4);
  assert(cidr !== undefined, `stored CIDR block is malformed: ${text}`);
  return cidr;
}

/** The last address of a block (its broadcast address). */
export function lastAddress(cidr: Cidr): Ipv4 {
  return (cidr.network | (~cidrMask(cidr.prefixLength) >>> 0)) >>> 0;
}

/** Whether `inner` lies wholly inside `outer`. */
export function blockContains(outer: Cidr, inner: Cidr): boolean {
  return inner.prefixLength >= outer.prefixLength && cidrContains(outer, inner.network);
}

/** Whether two blocks share any address. */
export function blocksOverlap(a: Cidr, b: Cidr): boolean {
  return blockContains(a, b) || blockContains(b, a);
}

/** The first address an instance may have: EC2 reserves the network address and the next three. */
export function firstUsableAddress(subnet: Cidr): Ipv4 {
  return subnet.network + 4;
}

/** Whether `address` is one an instance may have in `subnet` (inside it, not reserved, not broadcast). */
export function isUsableAddress(subnet: Cidr, address: Ipv4): boolean {
  return (
    cidrContains(subnet, address) && address >= firstUsableAddress(subnet) && address < lastAddress(subnet)
  );
}

/** Dotted-quad parsing for request values (undefined for anything else). */
export { parseIpv4, formatIpv4 };
