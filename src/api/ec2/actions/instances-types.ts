// EC2 DescribeInstanceTypes over Strata's instance-type table (cloud/instances/instance-types.ts): EC2's published
// sizes, which is what instances report; the VM itself gets them scaled to the host.
import { CloudError } from '../../../cloud/errors.ts';
import { compileFilters, type FilterFields } from '../../../cloud/common/filters.ts';
import { instanceTypes, type InstanceType } from '../../../cloud/instances/instance-types.ts';
import { defineAction } from '../action.ts';
import { checkDryRun } from '../dry-run.ts';

const typeFields: FilterFields<InstanceType> = {
  'instance-type': (t) => t.name,
  'vcpu-info.default-vcpus': (t) => t.vcpus,
  'memory-info.size-in-mib': (t) => t.memoryMiB,
  'processor-info.supported-architecture': () => 'x86_64',
  'current-generation': (t) => t.currentGeneration,
  'supported-root-device-type': () => 'ebs',
  'supported-virtualization-type': () => 'hvm',
};

/** EC2 DescribeInstanceTypes. */
export const describeInstanceTypes = defineAction({
  name: 'DescribeInstanceTypes',
  params: ['InstanceType.N', 'Filter.N', 'MaxResults', 'NextToken', 'DryRun'],
  status: 'partial',
  notes:
    'families t1, m1, m3, c3, m4, c4, r4, r5, t2, t3, t3a, m5, c5, m6i, c6i, r6i; one page (MaxResults is accepted, NextToken never returned)',
  async run(ctx, params) {
    const names = params.list('InstanceType');
    const filters = params.filters();
    params.page({ min: 5, max: 100 });
    checkDryRun(ctx, params);
    for (const name of names) {
      if (!instanceTypes.has(name)) {
        throw new CloudError('InvalidInstanceType', {
          message: `The following supplied instance types do not exist: [${name}]`,
        });
      }
    }
    const keep = compileFilters(filters, typeFields, () => new Map());
    const types = [...instanceTypes.values()].filter(
      (t) => (names.length === 0 || names.includes(t.name)) && keep(t),
    );
    return {
      instanceTypeSet: types.map((t) => ({
        instanceType: t.name,
        currentGeneration: t.currentGeneration,
        freeTierEligible: t.name === 't2.micro' || t.name === 't3.micro',
        supportedUsageClasses: ['on-demand'],
        supportedRootDeviceTypes: ['ebs'],
        supportedVirtualizationTypes: ['hvm'],
        bareMetal: false,
        hypervisor: 'xen',
        processorInfo: { supportedArchitectures: ['x86_64'] },
        vCpuInfo: { defaultVCpus: t.vcpus, defaultCores: t.vcpus, defaultThreadsPerCore: 1 },
        memoryInfo: { sizeInMiB: t.memoryMiB },
        instanceStorageSupported: false,
        supportedBootModes: ['legacy-bios'],
      })),
    };
  },
});

interface Offering {
  readonly instanceType: string;
  readonly locationType: string;
  readonly location: string;
}

const offeringFields: FilterFields<Offering> = {
  'instance-type': (o) => o.instanceType,
  location: (o) => o.location,
};

/** EC2 DescribeInstanceTypeOfferings: every type is offered in the region and in each of its zones. */
export const describeInstanceTypeOfferings = defineAction({
  name: 'DescribeInstanceTypeOfferings',
  params: ['LocationType', 'Filter.N', 'MaxResults', 'NextToken', 'DryRun'],
  notes: 'one page (MaxResults is accepted, NextToken never returned)',
  async run(ctx, params) {
    const locationType =
      params.enumOf('LocationType', ['region', 'availability-zone', 'availability-zone-id'] as const) ??
      'region';
    const filters = params.filters();
    params.page({ min: 5, max: 1000 });
    checkDryRun(ctx, params);
    const { regions } = ctx.cloud;
    const locations =
      locationType === 'region'
        ? [regions.region]
        : regions.zones.map((z) => (locationType === 'availability-zone' ? z.zoneName : z.zoneId));
    const keep = compileFilters(filters, offeringFields, () => new Map());
    const offerings = locations.flatMap((location) =>
      [...instanceTypes.keys()].map((instanceType) => ({ instanceType, locationType, location })),
    );
    return { instanceTypeOfferingSet: offerings.filter(keep) };
  },
});

/** The instance-type actions, for the registry. */
export const instanceTypeActions = [describeInstanceTypes, describeInstanceTypeOfferings] as const;
