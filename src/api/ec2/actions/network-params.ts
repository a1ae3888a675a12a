// RunInstances' network parameters (SubnetId, SecurityGroupId.N, SecurityGroup.N, PrivateIpAddress,
// AssociatePublicIpAddress, NetworkInterface.N) read into cloud/vpc's NetworkRequest.
import type { NetworkRequest } from '../../../cloud/vpc/launch-network.ts';
import type { QueryParams } from '../query-params.ts';

/** The RunInstances parameters this file reads, for the action's `params` list. */
export const networkParamNames = [
  'SubnetId',
  'SecurityGroupId.N',
  'SecurityGroup.N',
  'PrivateIpAddress',
  'AssociatePublicIpAddress',
  'NetworkInterface.N',
] as const;

function nonEmpty(value: string | undefined): string | undefined {
  return value === '' ? undefined : value;
}

/** RunInstances' network request. */
export function networkRequest(params: QueryParams): NetworkRequest {
  return {
    subnetId: nonEmpty(params.string('SubnetId')),
    groupIds: params.list('SecurityGroupId'),
    groupNames: params.list('SecurityGroup'),
    privateIp: nonEmpty(params.string('PrivateIpAddress')),
    associatePublicIp: params.boolean('AssociatePublicIpAddress'),
    interfaces: params.structList('NetworkInterface').map((nic) => ({
      deviceIndex: nic.int('DeviceIndex', { min: 0, max: 31 }),
      subnetId: nonEmpty(nic.string('SubnetId')),
      groupIds: nic.list('SecurityGroupId'),
      privateIp: nonEmpty(nic.string('PrivateIpAddress')),
      associatePublicIp: nic.boolean('AssociatePublicIpAddress'),
      networkInterfaceId: nonEmpty(nic.string('NetworkInterfaceId')),
      description: nic.string('Description'),
    })),
  };
}
