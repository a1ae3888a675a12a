// cloud/'s side of the host contract (network/instance-network.ts): an instance's primary interface with
// its groups' rules resolved, and its public address from the port that assigns public addresses.
import type { InstanceNetwork, InstanceNetworkSource } from '../../network/instance-network.ts';
import type { GroupRuleService } from '../security-groups/group-rules.ts';
import type { NetworkInterfaceService } from './network-interfaces.ts';

/** An instance's public address and its DNS name, while it has one. */
export interface PublicAddress {
  readonly ip: string;
  readonly dnsName: string;
}

/** Where public addresses come from (the addresses service implements it; none until it is wired). */
export type PublicAddressOf = (instanceId: string) => Promise<PublicAddress | undefined>;

/** No public addresses: the default until the addresses service is wired in. */
export const noPublicAddresses: PublicAddressOf = () => Promise.resolve(undefined);

/** Builds the source the host reads instances' networks from. */
export function instanceNetworkSource(
  interfaces: NetworkInterfaceService,
  rules: GroupRuleService,
  publicAddressOf: PublicAddressOf,
): InstanceNetworkSource {
  return {
    async networkOf(instanceId: string): Promise<InstanceNetwork | undefined> {
      const nic = (await interfaces.ofInstances(undefined, [instanceId])).get(instanceId);
      if (nic === undefined) return undefined;
      const groupIds = nic.groups.map((g) => g.id);
      const [policy, publicAddress] = await Promise.all([
        rules.policyOf(groupIds),
        publicAddressOf(instanceId),
      ]);
      return {
        instanceId,
        accountId: nic.row.account_id,
        vpcId: nic.row.vpc_id,
        vpcCidr: nic.vpcCidr,
        subnetId: nic.row.subnet_id,
        subnetCidr: nic.subnetCidr,
        interfaceId: nic.row.id,
        mac: nic.row.mac,
        privateIp: nic.row.private_ip,
        privateDnsName: nic.privateDnsName,
        ...(publicAddress === undefined
          ? {}
          : { publicIp: publicAddress.ip, publicDnsName: publicAddress.dnsName }),
        securityGroups: nic.groups,
        policy,
      };
    },
  };
}
