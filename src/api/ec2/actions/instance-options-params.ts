// The instance settings of cloud/instances/instance-options.ts on the wire: RunInstances' Monitoring.Enabled,
// Placement.Tenancy, EbsOptimized and DisableApiStop, their DescribeInstanceAttribute answers, and their
// ModifyInstanceAttribute forms (`SourceDestCheck.Value` or `Attribute=sourceDestCheck&Value=…`).
import { assertNever } from '../../../base/assert.ts';
import { CloudError } from '../../../cloud/errors.ts';
import type { InstanceRow } from '../../../cloud/instances/instance-records.ts';
import {
  tenancies,
  type LaunchOptions,
  type OptionChange,
} from '../../../cloud/instances/instance-options.ts';
import type { QueryParams } from '../query-params.ts';
import type { XmlObject } from '../xml.ts';

/** RunInstances parameters of the launch options, for its `params` list. */
export const launchOptionParams = [
  'Monitoring.Enabled',
  'Placement.Tenancy',
  'EbsOptimized',
  'DisableApiStop',
];

/** RunInstances' launch options. */
export function launchOptions(params: QueryParams): LaunchOptions {
  return {
    monitoring: params.boolean('Monitoring.Enabled'),
    tenancy: params.enumOf('Placement.Tenancy', tenancies),
    ebsOptimized: params.boolean('EbsOptimized'),
    disableApiStop: params.boolean('DisableApiStop'),
  };
}

/** How DescribeInstances shows the options. */
export function launchOptionsXml(row: InstanceRow): XmlObject {
  return {
    monitoring: { state: row.monitoring_state },
    ebsOptimized: row.ebs_optimized === 1,
    sourceDestCheck: row.source_dest_check === 1,
  };
}

/** DescribeInstanceAttribute names answered here. */
export const optionAttributes = [
  'productCodes',
  'ebsOptimized',
  'sourceDestCheck',
  'enaSupport',
  'disableApiStop',
  'kernel',
  'ramdisk',
  'sriovNetSupport',
  'enclaveOptions',
] as const;

/** One of optionAttributes. */
export type OptionAttribute = (typeof optionAttributes)[number];

/** Whether `name` is answered by optionAttributeXml. */
export function isOptionAttribute(name: string): name is OptionAttribute {
  return (optionAttributes as readonly string[]).includes(name);
}

/** The DescribeInstanceAttribute answer for `attribute` (EC2 sends empty elements for kernel and ramdisk). */
export function optionAttributeXml(row: InstanceRow, attribute: OptionAttribute): XmlObject {
  switch (attribute) {
    case 'productCodes':
      return { productCodes: [] };
    case 'ebsOptimized':
      return { ebsOptimized: { value: row.ebs_optimized === 1 } };
    case 'sourceDestCheck':
      return { sourceDestCheck: { value: row.source_dest_check === 1 } };
    case 'enaSupport':
      return { enaSupport: { value: true } };
    case 'disableApiStop':
      return { disableApiStop: { value: row.disable_api_stop === 1 } };
    case 'kernel':
      return { kernel: {} };
    case 'ramdisk':
      return { ramdisk: {} };
    case 'sriovNetSupport':
      return { sriovNetSupport: {} };
    case 'enclaveOptions':
      return { enclaveOptions: { enabled: false } };
    default:
      return assertNever(attribute, 'instance attribute');
  }
}

/** The ModifyInstanceAttribute change of an option, or undefined when the request names none. */
export function optionChange(value: (name: string) => string | undefined): OptionChange | undefined {
  for (const kind of ['sourceDestCheck', 'disableApiStop', 'ebsOptimized'] as const) {
    const name = `${kind[0]?.toUpperCase()}${kind.slice(1)}`;
    const raw = value(name);
    if (raw === undefined) continue;
    if (raw !== 'true' && raw !== 'false')
      throw new CloudError('InvalidParameterValue', {
        name: `${name}.Value`,
        value: raw,
        expected: 'true or false',
      });
    return { kind, value: raw === 'true' };
  }
  const kernel = value('Kernel');
  if (kernel !== undefined) return { kind: 'kernel', value: kernel };
  const ramdisk = value('Ramdisk');
  if (ramdisk !== undefined) return { kind: 'ramdisk', value: ramdisk };
  return undefined;
}
