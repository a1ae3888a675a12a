// EBS volume types and their Size/Iops/Throughput rules, as CreateVolume and ModifyVolume enforce them.
// Figures follow the EBS documentation (gp3 3000 IOPS / 125 MiB/s baseline, gp2 3 IOPS per GiB within
// 100..16000, io1/io2 provisioned IOPS with a per-GiB ratio, st1/sc1 from 125 GiB, magnetic up to 1 TiB).
import { ec2Error } from '../errors.ts';

/** The volume types EC2 knows. */
export type VolumeType = 'gp2' | 'gp3' | 'io1' | 'io2' | 'st1' | 'sc1' | 'standard';

interface TypeRules {
  readonly sizeGiBMin: number;
  readonly sizeGiBMax: number;
  /** Provisioned IOPS: required, optional (with default), or not accepted. */
  readonly iops: 'required' | 'optional' | 'none';
  readonly iopsMin: number;
  readonly iopsMax: number;
  /** Largest IOPS per GiB of size (0 = no ratio rule). */
  readonly iopsPerGiBMax: number;
  readonly throughput: boolean;
}

const rules: Readonly<Record<VolumeType, TypeRules>> = {
  gp2: {
    sizeGiBMin: 1,
    sizeGiBMax: 16384,
    iops: 'none',
    iopsMin: 0,
    iopsMax: 0,
    iopsPerGiBMax: 0,
    throughput: false,
  },
  gp3: {
    sizeGiBMin: 1,
    sizeGiBMax: 16384,
    iops: 'optional',
    iopsMin: 3000,
    iopsMax: 16000,
    iopsPerGiBMax: 500,
    throughput: true,
  },
  io1: {
    sizeGiBMin: 4,
    sizeGiBMax: 16384,
    iops: 'required',
    iopsMin: 100,
    iopsMax: 64000,
    iopsPerGiBMax: 50,
    throughput: false,
  },
  io2: {
    sizeGiBMin: 4,
    sizeGiBMax: 65536,
    iops: 'required',
    iopsMin: 100,
    iopsMax: 256000,
    iopsPerGiBMax: 1000,
    throughput: false,
  },
  st1: {
    sizeGiBMin: 125,
    sizeGiBMax: 16384,
    iops: 'none',
    iopsMin: 0,
    iopsMax: 0,
    iopsPerGiBMax: 0,
    throughput: false,
  },
  sc1: {
    sizeGiBMin: 125,
    sizeGiBMax: 16384,
    iops: 'none',
    iopsMin: 0,
    iopsMax: 0,
    iopsPerGiBMax: 0,
    throughput: false,
  },
  standard: {
    sizeGiBMin: 1,
    sizeGiBMax: 1024,
    iops: 'none',
    iopsMin: 0,
    iopsMax: 0,
    iopsPerGiBMax: 0,
    throughput: false,
  },
};

/** gp3 throughput bounds and default, MiB/s; at most 0.25 MiB/s per provisioned IOPS. */
export const gp3Throughput = { min: 125, max: 1000, default: 125, perIopsMax: 0.25 } as const;
/** gp3 IOPS included with every volume. */
export const gp3IopsDefault = 3000;

/** The type CreateVolume uses when none is given. */
export const volumeTypeDefault: VolumeType = 'gp2';

/** Parses a VolumeType parameter, with EC2's error for unknown types. */
export function parseVolumeType(value: string | undefined): VolumeType {
  if (value === undefined) return volumeTypeDefault;
  if (Object.hasOwn(rules, value)) return value as VolumeType;
  throw ec2Error('UnknownVolumeType', `The specified volume type '${value}' is not supported.`);
}

/** A volume's performance settings as requested (before defaults). */
export interface PerformanceRequest {
  readonly type: VolumeType;
  readonly sizeGiB: number;
  readonly iops: number | undefined;
  readonly throughput: number | undefined;
}

/** A volume's effective performance: what DescribeVolumes reports. */
export interface Performance {
  readonly iops: number | null;
  readonly throughput: number | null;
}

/** Checks Size/Iops/Throughput against the type's rules and fills EC2's defaults. */
export function resolvePerformance(request: PerformanceRequest): Performance {
  const { type, sizeGiB } = request;
  const rule = rules[type];
  checkSize(type, sizeGiB, rule);
  const iops = resolveIops(request, rule);
  if (request.throughput !== undefined && !rule.throughput) {
    throw ec2Error(
      'InvalidParameterCombination',
      `The parameter throughput is not supported for ${type} volumes.`,
    );
  }
  if (!rule.throughput) return { iops, throughput: null };
  const throughput = request.throughput ?? gp3Throughput.default;
  if (!Number.isInteger(throughput) || throughput < gp3Throughput.min || throughput > gp3Throughput.max) {
    throw ec2Error(
      'InvalidParameterValue',
      `Throughput of ${throughput}MiB/s is invalid for volume type ${type}; valid range is ${gp3Throughput.min}-${gp3Throughput.max}MiB/s.`,
    );
  }
  if (iops !== null && throughput > iops * gp3Throughput.perIopsMax) {
    throw ec2Error(
      'InvalidParameterValue',
      `Throughput (MiBps) to iops ratio of ${(throughput / iops).toFixed(6)} is too high; maximum is ${gp3Throughput.perIopsMax} MiBps per iops.`,
    );
  }
  return { iops, throughput };
}

function checkSize(type: VolumeType, sizeGiB: number, rule: TypeRules): void {
  if (!Number.isInteger(sizeGiB) || sizeGiB < rule.sizeGiBMin) {
    throw ec2Error(
      'InvalidParameterValue',
      `Volume of ${sizeGiB}GiB is too small for volume type ${type}; minimum is ${rule.sizeGiBMin}GiB.`,
    );
  }
  if (sizeGiB > rule.sizeGiBMax) {
    throw ec2Error(
      'InvalidParameterValue',
      `Volume of ${sizeGiB}GiB is too large for volume type ${type}; maximum is ${rule.sizeGiBMax}GiB.`,
    );
  }
}

function resolveIops(request: PerformanceRequest, rule: TypeRules): number | null {
  const { type, sizeGiB, iops } = request;
  if (rule.iops === 'none') {
    if (iops !== undefined) {
      throw ec2Error(
        'InvalidParameterCombination',
        `The parameter iops is not supported for ${type} volumes.`,
      );
    }
    // gp2 has no provisioned IOPS, but EC2 reports its baseline; st1/sc1/standard report none.
    return type === 'gp2' ? Math.min(16000, Math.max(100, 3 * sizeGiB)) : null;
  }
  if (iops === undefined) {
    if (rule.iops === 'required') {
      throw ec2Error('MissingParameter', `The parameter iops must be specified for ${type} volumes.`);
    }
    return gp3IopsDefault;
  }
  if (!Number.isInteger(iops) || iops < rule.iopsMin || iops > rule.iopsMax) {
    throw ec2Error(
      'InvalidParameterValue',
      `Volume iops of ${iops} is invalid for volume type ${type}; valid range is ${rule.iopsMin}-${rule.iopsMax}.`,
    );
  }
  // gp3's 3000 IOPS baseline comes with every size; the ratio only limits IOPS bought above it.
  const baseline = type === 'gp3' ? gp3IopsDefault : 0;
  if (iops > Math.max(baseline, rule.iopsPerGiBMax * sizeGiB)) {
    throw ec2Error(
      'InvalidParameterValue',
      `Iops to volume size ratio of ${(iops / sizeGiB).toFixed(6)} is too high; maximum is ${rule.iopsPerGiBMax}.000000`,
    );
  }
  return iops;
}
