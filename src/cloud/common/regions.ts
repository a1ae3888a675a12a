// The region this daemon serves and its availability zones (EC2 DescribeRegions/DescribeAvailabilityZones).
// One daemon is one region; zones are names only (all volumes live in the one pool), configurable with
// `strata serve --region R --zones a,b,c`.
import { assert } from '../../base/assert.ts';

/** Strata's defaults: what AWS SDKs assume when nothing is configured. */
export const defaultRegion = 'us-east-1';

/** An availability zone as EC2 describes it. */
export interface Zone {
  readonly zoneName: string;
  /** EC2's stable zone id, e.g. `use1-az1`. */
  readonly zoneId: string;
  readonly regionName: string;
  readonly state: 'available';
}

/** The served region and its zones. */
export interface Regions {
  readonly region: string;
  readonly zones: readonly Zone[];
  /** The zone named `name`, or undefined. */
  zone(name: string): Zone | undefined;
}

/** Builds the region description; `zoneNames` default to `<region>a`, `b`, `c`. */
export function createRegions(region: string = defaultRegion, zoneNames?: readonly string[]): Regions {
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region))
    throw new Error(`region must look like us-east-1: got ${region}`);
  const names = zoneNames ?? ['a', 'b', 'c'].map((letter) => `${region}${letter}`);
  assert(names.length > 0, 'a region needs at least one zone');
  const prefix = zoneIdPrefix(region);
  const zones = names.map((zoneName, index) => {
    if (!zoneName.startsWith(region))
      throw new Error(`zone ${zoneName} must start with its region ${region}`);
    return Object.freeze({
      zoneName,
      zoneId: `${prefix}-az${index + 1}`,
      regionName: region,
      state: 'available' as const,
    });
  });
  const byName = new Map(zones.map((zone) => [zone.zoneName, zone]));
  return Object.freeze({ region, zones, zone: (name: string) => byName.get(name) });
}

const directions: Readonly<Record<string, string>> = {
  north: 'n',
  south: 's',
  east: 'e',
  west: 'w',
  central: 'c',
  northeast: 'ne',
  northwest: 'nw',
  southeast: 'se',
  southwest: 'sw',
};

// us-east-1 → use1, eu-central-1 → euc1, ap-southeast-2 → apse2 (EC2's zone-id scheme).
function zoneIdPrefix(region: string): string {
  const parts = region.split('-');
  const middle = parts.slice(1, -1).map((word) => directions[word] ?? word.slice(0, 1));
  return `${parts[0] ?? ''}${middle.join('')}${parts.at(-1) ?? ''}`;
}
