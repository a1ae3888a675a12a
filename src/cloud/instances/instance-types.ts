// The instance types Strata accepts and what each becomes on this host. EC2's sizes are scaled down so a
// laptop can run several: vCPUs never exceed the host's cores, memory is capped at limits.instanceMemoryMiBMax
// and at a quarter of the host's RAM. The EC2 value stays what DescribeInstances reports.
import { cpus, totalmem } from 'node:os';
import { limits } from '../../base/limits.ts';
import { ec2Error } from '../errors.ts';

/** One instance type: EC2's published size. */
export interface InstanceType {
  readonly name: string;
  readonly vcpus: number;
  readonly memoryMiB: number;
  /** False for EC2's previous generation (t1, m1, m3 …), which DescribeInstanceTypes marks so. */
  readonly currentGeneration: boolean;
}

// EC2's published sizes; older families stay, as tools and tests written years ago still launch them.
const families: Readonly<Record<string, readonly (readonly [string, number, number])[]>> = {
  t1: [['micro', 1, 627]],
  m1: [
    ['small', 1, 1740],
    ['medium', 1, 3840],
    ['large', 2, 7680],
    ['xlarge', 4, 15360],
  ],
  m3: [
    ['medium', 1, 3840],
    ['large', 2, 7680],
    ['xlarge', 4, 15360],
    ['2xlarge', 8, 30720],
  ],
  c3: [
    ['large', 2, 3840],
    ['xlarge', 4, 7680],
    ['2xlarge', 8, 15360],
  ],
  m4: [
    ['large', 2, 8192],
    ['xlarge', 4, 16384],
    ['2xlarge', 8, 32768],
  ],
  c4: [
    ['large', 2, 3840],
    ['xlarge', 4, 7680],
    ['2xlarge', 8, 15360],
  ],
  r4: [
    ['large', 2, 15616],
    ['xlarge', 4, 31232],
  ],
  r5: [
    ['large', 2, 16384],
    ['xlarge', 4, 32768],
    ['2xlarge', 8, 65536],
  ],
  t3a: [
    ['nano', 2, 512],
    ['micro', 2, 1024],
    ['small', 2, 2048],
    ['medium', 2, 4096],
    ['large', 2, 8192],
  ],
  t2: [
    ['nano', 1, 512],
    ['micro', 1, 1024],
    ['small', 1, 2048],
    ['medium', 2, 4096],
    ['large', 2, 8192],
    ['xlarge', 4, 16384],
  ],
  t3: [
    ['nano', 2, 512],
    ['micro', 2, 1024],
    ['small', 2, 2048],
    ['medium', 2, 4096],
    ['large', 2, 8192],
    ['xlarge', 4, 16384],
  ],
  m5: [
    ['large', 2, 8192],
    ['xlarge', 4, 16384],
    ['2xlarge', 8, 32768],
  ],
  c5: [
    ['large', 2, 4096],
    ['xlarge', 4, 8192],
    ['2xlarge', 8, 16384],
  ],
  m6i: [
    ['large', 2, 8192],
    ['xlarge', 4, 16384],
  ],
  c6i: [
    ['large', 2, 4096],
    ['xlarge', 4, 8192],
  ],
  r6i: [
    ['large', 2, 16384],
    ['xlarge', 4, 32768],
  ],
};

const previousGeneration: ReadonlySet<string> = new Set(['t1', 'm1', 'm3', 'c3']);

/** Every supported type by name (`t3.micro` …). */
export const instanceTypes: ReadonlyMap<string, InstanceType> = new Map(
  Object.entries(families).flatMap(([family, sizes]) =>
    sizes.map(([size, vcpus, memoryMiB]) => {
      const name = `${family}.${size}`;
      const currentGeneration = !previousGeneration.has(family);
      return [name, { name, vcpus, memoryMiB, currentGeneration }] as const;
    }),
  ),
);

/** RunInstances' default type, as EC2 (m1.small is gone; t2.micro is the free-tier default). */
export const defaultInstanceType = 't2.micro';

/** The type named `name`, or EC2's InvalidParameterValue. */
export function instanceType(name: string): InstanceType {
  const found = instanceTypes.get(name);
  if (found === undefined) {
    throw ec2Error('InvalidParameterValue', `Invalid value '${name}' for InstanceType.`);
  }
  return found;
}

/** What the VM really gets on this host (see the file comment). */
export function scaledForHost(type: InstanceType): { vcpus: number; memoryMiB: number } {
  const hostMiB = Math.floor(totalmem() / (1024 * 1024));
  const memoryMiB = Math.max(
    limits.instanceMemoryMiBMin,
    Math.min(type.memoryMiB, limits.instanceMemoryMiBMax, Math.floor(hostMiB / 4)),
  );
  return { vcpus: Math.max(1, Math.min(type.vcpus, cpus().length)), memoryMiB };
}
