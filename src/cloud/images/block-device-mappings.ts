// Block device mappings of images and instances: reading them from requests, checking them like EC2, and
// merging RunInstances' overrides onto the image's (size never below the snapshot, NoDevice, ephemeralN).
import type { Selectable } from 'kysely';
import { CloudError, ec2Error } from '../errors.ts';
import type { BlockDeviceMappingsTable } from '../../db/tables/block-device-mappings.ts';
import { parseVolumeType, resolvePerformance } from '../ebs/volume-types.ts';

/** The EBS part of a mapping as a request carries it. */
export interface EbsMappingRequest {
  readonly snapshotId: string | undefined;
  readonly volumeSizeGiB: number | undefined;
  readonly deleteOnTermination: boolean | undefined;
  readonly volumeType: string | undefined;
  readonly iops: number | undefined;
  readonly throughput: number | undefined;
}

/** One `BlockDeviceMapping.N` of RegisterImage, RunInstances or CreateImage. */
export interface MappingRequest {
  readonly deviceName: string;
  readonly noDevice: boolean;
  readonly virtualName: string | undefined;
  readonly ebs: EbsMappingRequest | undefined;
}

/** A resolved mapping: an EBS disk (from a snapshot or blank), an ephemeral disk, or a suppressed name. */
export type Mapping =
  | {
      readonly kind: 'ebs';
      readonly deviceName: string;
      readonly snapshotId: string | null;
      readonly volumeSizeGiB: number;
      readonly volumeType: string;
      readonly iops: number | null;
      readonly throughput: number | null;
      readonly deleteOnTermination: boolean;
    }
  | { readonly kind: 'ephemeral'; readonly deviceName: string; readonly virtualName: string }
  | { readonly kind: 'no-device'; readonly deviceName: string };

/** Looks up a snapshot's size the caller may use, or throws InvalidSnapshot.NotFound / IncorrectState. */
export type SnapshotSizeOf = (snapshotId: string) => Promise<number>;

const deviceNamePattern = /^\/dev\/(sd[a-z][1-9]?|xvd[a-z][a-z]?[1-9]?|vd[a-z])$/;

/** Checks a device name the way EC2 does for Linux instances. */
export function checkDeviceName(name: string): void {
  if (!deviceNamePattern.test(name)) {
    throw ec2Error(
      'InvalidParameterValue',
      `Value (${name}) for parameter device is invalid. ${name} is not a valid EBS device name.`,
    );
  }
}

function invalidMapping(message: string): CloudError {
  return ec2Error('InvalidBlockDeviceMapping', message);
}

/** Resolves one requested EBS mapping on top of `base` (the image's, if it has one of that name). */
async function resolveEbs(
  request: MappingRequest,
  ebs: EbsMappingRequest,
  base: Mapping | undefined,
  sizeOf: SnapshotSizeOf,
): Promise<Mapping> {
  const inherited = base?.kind === 'ebs' ? base : undefined;
  const snapshotId = ebs.snapshotId ?? inherited?.snapshotId ?? null;
  const snapshotGiB = snapshotId === null ? undefined : await sizeOf(snapshotId);
  const sizeGiB = ebs.volumeSizeGiB ?? inherited?.volumeSizeGiB ?? snapshotGiB;
  if (sizeGiB === undefined) {
    throw invalidMapping(`The device '${request.deviceName}' needs a snapshot id or a volume size.`);
  }
  if (snapshotGiB !== undefined && sizeGiB < snapshotGiB) {
    throw ec2Error(
      'InvalidBlockDeviceMapping',
      `Volume of size ${sizeGiB}GB is smaller than snapshot '${snapshotId}', expect size >= ${snapshotGiB}GB`,
    );
  }
  const volumeType = parseVolumeType(ebs.volumeType ?? inherited?.volumeType);
  const performance = resolvePerformance({
    type: volumeType,
    sizeGiB,
    iops: ebs.iops,
    throughput: ebs.throughput,
  });
  return {
    kind: 'ebs',
    deviceName: request.deviceName,
    snapshotId,
    volumeSizeGiB: sizeGiB,
    volumeType,
    iops: performance.iops,
    throughput: performance.throughput,
    deleteOnTermination: ebs.deleteOnTermination ?? inherited?.deleteOnTermination ?? true,
  };
}

/** Resolves one requested mapping; `base` is the image's mapping of the same name, if any. */
export async function resolveMapping(
  request: MappingRequest,
  base: Mapping | undefined,
  sizeOf: SnapshotSizeOf,
): Promise<Mapping> {
  checkDeviceName(request.deviceName);
  const kinds = [request.noDevice, request.virtualName !== undefined, request.ebs !== undefined];
  if (kinds.filter(Boolean).length !== 1) {
    throw invalidMapping(
      `The device '${request.deviceName}' must have exactly one of Ebs, VirtualName or NoDevice.`,
    );
  }
  if (request.noDevice) return { kind: 'no-device', deviceName: request.deviceName };
  if (request.virtualName !== undefined) {
    if (!/^ephemeral([0-9]|1[0-9]|2[0-3])$/.test(request.virtualName)) {
      throw invalidMapping(
        `Invalid virtual name '${request.virtualName}': expected ephemeral0 to ephemeral23.`,
      );
    }
    return { kind: 'ephemeral', deviceName: request.deviceName, virtualName: request.virtualName };
  }
  return resolveEbs(request, request.ebs as EbsMappingRequest, base, sizeOf);
}

/** Resolves a whole list (RegisterImage), rejecting a device named twice. */
export async function resolveMappings(
  requests: readonly MappingRequest[],
  sizeOf: SnapshotSizeOf,
): Promise<Mapping[]> {
  const seen = new Set<string>();
  const resolved: Mapping[] = [];
  for (const request of requests) {
    if (seen.has(request.deviceName)) {
      throw invalidMapping(`The device name '${request.deviceName}' is used more than once.`);
    }
    seen.add(request.deviceName);
    resolved.push(await resolveMapping(request, undefined, sizeOf));
  }
  return resolved;
}

/**
 * RunInstances/CreateImage: `overrides` merged onto `image` by device name. NoDevice drops a mapping (never
 * the root); the result keeps the image's order, root first, then new devices in request order.
 */
export async function mergeMappings(
  image: readonly Mapping[],
  overrides: readonly MappingRequest[],
  rootDeviceName: string,
  sizeOf: SnapshotSizeOf,
): Promise<Mapping[]> {
  const merged = new Map(image.map((m) => [m.deviceName, m] as const));
  for (const request of overrides) {
    const resolved = await resolveMapping(request, merged.get(request.deviceName), sizeOf);
    if (resolved.kind === 'no-device' && request.deviceName === rootDeviceName) {
      throw invalidMapping(`The root device '${rootDeviceName}' cannot be suppressed with NoDevice.`);
    }
    merged.set(request.deviceName, resolved);
  }
  const all = [...merged.values()].filter((m) => m.kind !== 'no-device');
  return [
    ...all.filter((m) => m.deviceName === rootDeviceName),
    ...all.filter((m) => m.deviceName !== rootDeviceName),
  ];
}

/** Throws MissingParameter unless `value` is set (for required mapping fields). */
export function requireField<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw new CloudError('MissingParameter', { name });
  return value;
}

/** A stored mapping row, as block_device_mappings holds it. */
export type MappingRow = Selectable<BlockDeviceMappingsTable>;

/** The row that stores an image's `mapping` at `position`. */
export function imageMappingRow(
  imageId: string,
  accountId: string,
  mapping: Mapping,
  position: number,
): MappingRow {
  const ebs = mapping.kind === 'ebs' ? mapping : undefined;
  return {
    owner_id: imageId,
    account_id: accountId,
    device_name: mapping.deviceName,
    position,
    snapshot_id: ebs?.snapshotId ?? null,
    volume_id: null,
    volume_size_gib: ebs?.volumeSizeGiB ?? null,
    volume_type: ebs?.volumeType ?? null,
    iops: ebs?.iops ?? null,
    throughput: ebs?.throughput ?? null,
    delete_on_termination: ebs?.deleteOnTermination === false ? 0 : 1,
    no_device: mapping.kind === 'no-device' ? 1 : 0,
    virtual_name: mapping.kind === 'ephemeral' ? mapping.virtualName : null,
    attachment_state: null,
    attach_time: null,
  };
}

/** The mapping an image row stores. */
export function mappingOfRow(row: MappingRow): Mapping {
  if (row.no_device === 1) return { kind: 'no-device', deviceName: row.device_name };
  if (row.virtual_name !== null) {
    return { kind: 'ephemeral', deviceName: row.device_name, virtualName: row.virtual_name };
  }
  return {
    kind: 'ebs',
    deviceName: row.device_name,
    snapshotId: row.snapshot_id,
    volumeSizeGiB: row.volume_size_gib ?? 0,
    volumeType: row.volume_type ?? 'gp2',
    iops: row.iops,
    throughput: row.throughput,
    deleteOnTermination: row.delete_on_termination === 1,
  };
}
