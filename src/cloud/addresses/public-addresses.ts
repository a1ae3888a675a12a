// Public addresses as the rest of Strata sees them: an instance's public IPv4 (auto-assigned or Elastic) and
// the ports through which cloud/addresses/ serves it. A leaf: it imports nothing.
//
// Every public address is a loopback address of this host (docs/networking.md): 127/8 is all loopback on
// Linux, so the host's QEMU can listen on 127.100.0.7:22 and `ssh user@127.100.0.7` reaches the guest. The
// /16 is split in two so an address tells its kind: the lower half is assigned to instances as they start,
// the upper half is for Elastic IPs.

/** An inclusive range of IPv4 addresses, dotted quads. */
export interface AddressRange {
  readonly first: string;
  readonly last: string;
}

/** Addresses instances get on start (32,512 of them: .0 and .255 of each /24 are skipped). */
export const autoAssignedRange: AddressRange = { first: '127.100.0.1', last: '127.100.127.254' };

/** Addresses AllocateAddress hands out as Elastic IPs. */
export const elasticRange: AddressRange = { first: '127.100.128.1', last: '127.100.255.254' };

/** An instance's public address and EC2's DNS name for it. */
export interface PublicAddress {
  readonly ip: string;
  readonly dnsName: string;
}

/** The port the networking model reads an instance's public address through. */
export interface PublicAddressSource {
  /** The instance's current public address (Elastic or auto-assigned), or undefined when it has none. */
  publicAddressOf(instanceId: string): Promise<PublicAddress | undefined>;
}

/** What the instance lifecycle tells the address service, so an instance's public address follows EC2's rules. */
export interface LaunchAddresses {
  /** Before a pending instance boots: gives it an auto-assigned address when it wants one and has none. */
  assignOnLaunch(instanceId: string): Promise<void>;
  /** After an instance stopped: its auto-assigned address goes back to the pool; an Elastic IP stays. */
  releaseOnStop(instanceId: string): Promise<void>;
  /** After an instance terminated: every address goes, and its Elastic IP is disassociated. */
  releaseOnTerminate(instanceId: string): Promise<void>;
}

/** Whether an instance wants a public address (AssociatePublicIpAddress or its subnet's MapPublicIpOnLaunch). */
export type PublicAddressWish = (instanceId: string) => Promise<boolean>;

/** EC2's public DNS name: `ec2-1-2-3-4.compute-1.amazonaws.com` in us-east-1, `….REGION.compute.amazonaws.com` elsewhere. */
export function publicDnsName(ip: string, region: string): string {
  const host = `ec2-${ip.replaceAll('.', '-')}`;
  return region === 'us-east-1'
    ? `${host}.compute-1.amazonaws.com`
    : `${host}.${region}.compute.amazonaws.com`;
}
