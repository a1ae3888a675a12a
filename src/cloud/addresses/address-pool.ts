// Picking a free address from a range: the lowest one no row holds. Pure, so the bound and its exhaustion
// are tested without a daemon.
import { assert } from '../../base/assert.ts';
import type { AddressRange } from './public-addresses.ts';

/** The IPv4 dotted quad as an unsigned 32-bit number. */
export function ipv4ToNumber(ip: string): number {
  const parts = ip.split('.').map(Number);
  assert(
    parts.length === 4 && parts.every((p) => Number.isInteger(p) && p >= 0 && p <= 255),
    `an IPv4 address: ${ip}`,
  );
  return (((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!) >>> 0;
}

/** The number as a dotted quad. */
export function numberToIpv4(value: number): string {
  assert(Number.isInteger(value) && value >= 0 && value <= 0xffffffff, 'a 32-bit address');
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** Whether `ip` lies in `range`. */
export function inRange(ip: string, range: AddressRange): boolean {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) return false;
  const n = ipv4ToNumber(ip);
  return n >= ipv4ToNumber(range.first) && n <= ipv4ToNumber(range.last);
}

/**
 * The first address of `range` at or after `start` (wrapping around) that is not in `used`, skipping .0 and
 * .255, which read as network and broadcast; undefined when all are taken. Starting past the last address
 * handed out makes a restarted instance get a new address, as on EC2, while any free one is found.
 */
export function firstFree(
  range: AddressRange,
  used: ReadonlySet<string>,
  start?: string,
): string | undefined {
  const first = ipv4ToNumber(range.first);
  const last = ipv4ToNumber(range.last);
  assert(first <= last, 'a range runs upwards');
  const size = last - first + 1;
  const offset = start !== undefined && inRange(start, range) ? ipv4ToNumber(start) - first : 0;
  // Bounded by the range (32,512 usable addresses for either of Strata's), once per assignment.
  for (let step = 0; step < size; step++) {
    const n = first + ((offset + step) % size);
    const lowOctet = n & 255;
    if (lowOctet === 0 || lowOctet === 255) continue;
    const ip = numberToIpv4(n);
    if (!used.has(ip)) return ip;
  }
  return undefined;
}
