// The instance metadata service's view of one instance: what its guest may learn about itself at
// 169.254.169.254. cloud/ fills it; metadata/ serves it. A leaf: imports nothing.

/** IMDS settings of an instance (EC2's InstanceMetadataOptions). */
export interface MetadataOptions {
  readonly httpTokens: 'optional' | 'required';
  readonly httpEndpoint: 'enabled' | 'disabled';
  /** IP TTL of the service's answers; the VPC switch applies it (network/vpc-switch.ts). */
  readonly httpPutResponseHopLimit: number;
  readonly instanceMetadataTags: 'enabled' | 'disabled';
}

/** Everything one instance's metadata tree is built from. */
export interface InstanceMetadata {
  readonly instanceId: string;
  readonly imageId: string;
  readonly instanceType: string;
  readonly launchIndex: number;
  readonly reservationId: string;
  readonly accountId: string;
  readonly region: string;
  readonly availabilityZone: string;
  readonly availabilityZoneId: string;
  readonly pendingTime: Date;
  readonly architecture: string;
  readonly network: {
    readonly mac: string;
    readonly interfaceId: string;
    readonly privateIp: string;
    readonly privateDnsName: string;
    readonly publicIp?: string;
    readonly publicDnsName?: string;
    readonly subnetId: string;
    readonly subnetCidr: string;
    readonly vpcId: string;
    readonly vpcCidr: string;
    readonly securityGroups: readonly { readonly id: string; readonly name: string }[];
  };
  /** Public keys, in launch order: index 0 is the launch key pair. */
  readonly publicKeys: readonly { readonly name: string; readonly openssh: string }[];
  /** Device names: `ami` and `root` (the root device), then `ebsN` and `ephemeralN` as launched. */
  readonly blockDeviceMapping: Readonly<Record<string, string>>;
  readonly userData?: Buffer;
  /** The instance's tags; served only when options.instanceMetadataTags is enabled. */
  readonly tags: Readonly<Record<string, string>>;
  readonly options: MetadataOptions;
}

/** Looks an instance up when its guest asks; undefined once it is gone. Read on every request, never cached. */
export type MetadataSource = (instanceId: string) => Promise<InstanceMetadata | undefined>;
