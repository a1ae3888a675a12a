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
  'current-generation': () => true,
  'supported-root-device-type': () => 'ebs',
  'supported-virtualization-type': () => 'hvm',
};

/** EC2 DescribeInstanceTypes. */
export const describeInstanceTypes = defineAction({
  name: 'DescribeInstanceTypes',
  params: ['InstanceType.N', 'Filter.N', 'MaxResults', 'NextToken', 'DryRun'],
  status: 'partial',
  notes: 't2, t3, m5 and c5 sizes only; one page (MaxResults is accepted, NextToken never returned)',
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
        currentGeneration: true,
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

/** The instance-type actions, for the registry. */
export const instanceTypeActions = [describeInstanceTypes] as const;
