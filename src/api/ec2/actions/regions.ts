// DescribeRegions and DescribeAvailabilityZones: the one region this daemon serves and its zones.
import { CloudError } from '../../../cloud/errors.ts';
import { compileFilters } from '../../../cloud/common/filters.ts';
import type { FilterFields } from '../../../cloud/common/filters.ts';
import type { Zone } from '../../../cloud/common/regions.ts';
import { defineAction } from '../action.ts';
import type { ActionContext } from '../action.ts';
import { checkDryRun } from '../dry-run.ts';

const optInStatus = 'opt-in-not-required';
const noTags = (): ReadonlyMap<string, string> => new Map();

interface RegionRow {
  readonly regionName: string;
  readonly regionEndpoint: string;
}

const regionFields: FilterFields<RegionRow> = {
  endpoint: (region) => region.regionEndpoint,
  'region-name': (region) => region.regionName,
  'opt-in-status': () => optInStatus,
};

const zoneFields: FilterFields<Zone> = {
  'zone-name': (zone) => zone.zoneName,
  'zone-id': (zone) => zone.zoneId,
  'region-name': (zone) => zone.regionName,
  state: (zone) => zone.state,
  'zone-type': () => 'availability-zone',
  'group-name': (zone) => zone.regionName,
  'network-border-group': (zone) => zone.regionName,
  'opt-in-status': () => optInStatus,
  // EC2 still documents the old `message` filter; zones here never carry messages.
  message: () => undefined,
};

/** EC2 DescribeRegions: the region this daemon serves. */
export const describeRegions = defineAction({
  name: 'DescribeRegions',
  params: ['RegionName.N', 'Filter.N', 'AllRegions', 'DryRun'],
  notes: 'one region per daemon (`strata serve --region`)',
  async run(ctx, params) {
    const names = params.list('RegionName');
    const matches = compileFilters(params.filters(), regionFields, noTags);
    params.boolean('AllRegions');
    checkDryRun(ctx, params);
    const region = regionRow(ctx);
    for (const name of names) {
      if (name !== region.regionName) {
        throw new CloudError('InvalidParameterValue', { message: `Invalid region: ${name}` });
      }
    }
    const regions = [region].filter(matches);
    return { regionInfo: regions.map((row) => ({ ...row, optInStatus })) };
  },
});

/** EC2 DescribeAvailabilityZones: the configured zones of the served region. */
export const describeAvailabilityZones = defineAction({
  name: 'DescribeAvailabilityZones',
  params: ['ZoneName.N', 'ZoneId.N', 'Filter.N', 'AllAvailabilityZones', 'DryRun'],
  notes: 'zones from `strata serve --zones`; no Local/Wavelength zones',
  async run(ctx, params) {
    const zoneNames = params.list('ZoneName');
    const zoneIds = params.list('ZoneId');
    const matches = compileFilters(params.filters(), zoneFields, noTags);
    params.boolean('AllAvailabilityZones');
    checkDryRun(ctx, params);
    const zones = ctx.cloud.regions.zones;
    for (const name of zoneNames) {
      if (!zones.some((zone) => zone.zoneName === name)) {
        throw new CloudError('InvalidParameterValue', { message: `Invalid availability zone: [${name}]` });
      }
    }
    for (const id of zoneIds) {
      if (!zones.some((zone) => zone.zoneId === id)) {
        throw new CloudError('InvalidParameterValue', { message: `Invalid availability zone ID: [${id}]` });
      }
    }
    const selected = zones.filter(
      (zone) =>
        (zoneNames.length === 0 || zoneNames.includes(zone.zoneName)) &&
        (zoneIds.length === 0 || zoneIds.includes(zone.zoneId)) &&
        matches(zone),
    );
    return { availabilityZoneInfo: selected.map(renderZone) };
  },
});

function regionRow(ctx: ActionContext): RegionRow {
  const host = new URL(ctx.cloud.endpoint).host;
  return { regionName: ctx.cloud.regions.region, regionEndpoint: host };
}

function renderZone(zone: Zone): Record<string, string | never[]> {
  return {
    zoneName: zone.zoneName,
    zoneState: zone.state,
    regionName: zone.regionName,
    zoneId: zone.zoneId,
    zoneType: 'availability-zone',
    optInStatus,
    groupName: zone.regionName,
    networkBorderGroup: zone.regionName,
    messageSet: [],
  };
}

/** The region actions, for the registry. */
export const regionActions = [describeRegions, describeAvailabilityZones] as const;
