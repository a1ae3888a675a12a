// The contract between the EC2 networking model (cloud/) and the host side that makes it real (the VPC
// switches, QEMU's user-mode network, public forwards and the metadata relay, run by the daemon). cloud/
// implements InstanceNetworkSource and calls NetworkRefresh; the host implements NetworkRefresh and reads
// the source. A leaf: it imports only types of this folder.
import type { InterfacePolicy } from './security-filter.ts';

/** One instance's primary network interface (device index 0), as DescribeInstances reports it. */
export interface InstanceNetwork {
  readonly instanceId: string;
  readonly accountId: string;
  readonly vpcId: string;
  /** The VPC's primary CIDR block, `172.31.0.0/16` for a default VPC. */
  readonly vpcCidr: string;
  readonly subnetId: string;
  /** The subnet's CIDR block, `172.31.16.0/20` say; the guest's DHCP lease is inside it. */
  readonly subnetCidr: string;
  /** The network interface id (eni-…). */
  readonly interfaceId: string;
  /** The interface's MAC address, lower-case `02:xx:xx:xx:xx:xx`, stable for the instance's life. */
  readonly mac: string;
  /** The primary private IPv4 address, kept across stop and start. */
  readonly privateIp: string;
  /** `ip-172-31-16-5.ec2.internal` (us-east-1) or `ip-….REGION.compute.internal`; its first label is the DHCP hostname. */
  readonly privateDnsName: string;
  /** The instance's public address (a loopback address on this host) while it has one. */
  readonly publicIp?: string;
  readonly publicDnsName?: string;
  readonly securityGroups: readonly { readonly id: string; readonly name: string }[];
  /** The groups' rules, resolved: what the VPC switch and the public forwards enforce. */
  readonly policy: InterfacePolicy;
}

/** cloud/'s answer to "what network does this instance have now?" Read whenever the host needs it. */
export interface InstanceNetworkSource {
  /** The network of an instance that exists (any state but terminated); undefined otherwise. */
  networkOf(instanceId: string): Promise<InstanceNetwork | undefined>;
}

/**
 * Called by cloud/ after any change that may alter a running instance's network: security group rules or
 * membership, a public or Elastic IP address, metadata options. The host re-reads the source and applies it
 * to running instances without restarting them.
 */
export interface NetworkRefresh {
  changed(): void;
}
