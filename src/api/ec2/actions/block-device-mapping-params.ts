// Reading `BlockDeviceMapping.N` of RegisterImage, RunInstances and CreateImage, and rendering mappings.
import { assertNever } from '../../../base/assert.ts';
import type { Mapping, MappingRequest } from '../../../cloud/images/block-device-mappings.ts';
import type { QueryParams } from '../query-params.ts';
import type { XmlObject } from '../xml.ts';

/** The `BlockDeviceMapping.N` entries of a request. */
export function mappingRequests(params: QueryParams, name = 'BlockDeviceMapping'): MappingRequest[] {
  return params.structList(name).map((m) => ({
    deviceName: m.requiredString('DeviceName'),
    noDevice: m.string('NoDevice') !== undefined,
    virtualName: m.string('VirtualName') || undefined,
    ebs: m.has('Ebs')
      ? {
          snapshotId: m.string('Ebs.SnapshotId') || undefined,
          volumeSizeGiB: m.int('Ebs.VolumeSize', { min: 1 }),
          deleteOnTermination: m.boolean('Ebs.DeleteOnTermination'),
          volumeType: m.string('Ebs.VolumeType'),
          iops: m.int('Ebs.Iops'),
          throughput: m.int('Ebs.Throughput'),
        }
      : undefined,
  }));
}

/** An image's mapping as EC2's blockDeviceMapping item. */
export function imageMappingXml(mapping: Mapping): XmlObject {
  switch (mapping.kind) {
    case 'ebs':
      return {
        deviceName: mapping.deviceName,
        ebs: {
          snapshotId: mapping.snapshotId,
          volumeSize: mapping.volumeSizeGiB,
          deleteOnTermination: mapping.deleteOnTermination,
          volumeType: mapping.volumeType,
          iops: mapping.iops,
          throughput: mapping.throughput,
          encrypted: false,
        },
      };
    case 'ephemeral':
      return { deviceName: mapping.deviceName, virtualName: mapping.virtualName };
    case 'no-device':
      return { deviceName: mapping.deviceName, noDevice: '' };
    default:
      return assertNever(mapping, 'mapping');
  }
}
