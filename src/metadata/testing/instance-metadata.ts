// A complete InstanceMetadata for tests of the metadata service.
import type { InstanceMetadata, MetadataOptions } from '../metadata.ts';

const defaults: MetadataOptions = {
  httpTokens: 'optional',
  httpEndpoint: 'enabled',
  httpPutResponseHopLimit: 1,
  instanceMetadataTags: 'disabled',
};

/** A VPC instance's metadata with EC2-shaped values; `extra` overrides any field. */
export function instance(
  instanceId: string,
  privateIp: string,
  extra: Partial<InstanceMetadata> = {},
): InstanceMetadata {
  return {
    instanceId,
    imageId: 'ami-0123456789abcdef0',
    instanceType: 't3.micro',
    launchIndex: 0,
    reservationId: 'r-0123456789abcdef0',
    accountId: '123456789012',
    region: 'us-east-1',
    availabilityZone: 'us-east-1a',
    availabilityZoneId: 'use1-az1',
    pendingTime: new Date('2026-12-02T10:00:00.000Z'),
    architecture: 'x86_64',
    network: {
      mac: '02:00:00:00:00:0a',
      interfaceId: 'eni-0123456789abcdef0',
      privateIp,
      privateDnsName: `ip-${privateIp.replaceAll('.', '-')}.ec2.internal`,
      publicIp: '127.100.0.10',
      publicDnsName: 'ec2-127-100-0-10.compute-1.amazonaws.com',
      subnetId: 'subnet-0123456789abcdef0',
      subnetCidr: '172.31.0.0/20',
      vpcId: 'vpc-0123456789abcdef0',
      vpcCidr: '172.31.0.0/16',
      securityGroups: [{ id: 'sg-0123456789abcdef0', name: 'default' }],
    },
    publicKeys: [
      {
        name: 'my-key',
        openssh: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleExampleExampleExampleExampleExample me',
      },
    ],
    blockDeviceMapping: { ami: '/dev/xvda', root: '/dev/xvda', ebs2: 'sdf' },
    tags: { Name: 'web', role: 'front' },
    options: defaults,
    ...extra,
  };
}
