// EC2 resource ids: a prefix and 17 lowercase hex digits (Contract: ids and semantics).
import { randomBytes } from 'node:crypto';

/** The resource kinds Strata hands out ids for. */
export type IdPrefix =
  | 'vol'
  | 'snap'
  | 'ami'
  | 'i'
  | 'r'
  | 'import'
  | 'eni'
  | 'eni-attach'
  | 'vpc'
  | 'subnet'
  | 'rtb'
  | 'igw'
  | 'sg'
  | 'sgr'
  | 'key'
  | 'eipalloc'
  | 'eipassoc';

const HEX_DIGITS = 17;

/** A fresh random id such as `vol-0123456789abcdef0`. */
export function newId(prefix: IdPrefix): string {
  const hex = randomBytes(9).toString('hex').slice(0, HEX_DIGITS);
  return `${prefix}-${hex}`;
}

/** Whether `id` is well formed for `prefix` (EC2 also accepts the old 8-digit form). */
export function isValidId(id: string, prefix: IdPrefix): boolean {
  return new RegExp(`^${prefix}-([0-9a-f]{8}|[0-9a-f]{17})$`).test(id);
}
