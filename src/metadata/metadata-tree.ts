// The IMDS category tree of one instance, as EC2 lays it out: directories list their entries one per line
// (sub-directories with a trailing slash), leaves are text (user-data is raw bytes).
import type { InstanceMetadata } from './metadata.ts';

/** A node of the tree: a directory, or a leaf's body (computed when asked for, if a function). */
export type MetadataNode = MetadataDirectory | string | Buffer | (() => string);

/** A directory: its children, and the listing EC2 shows when that is not just their names. */
export interface MetadataDirectory {
  readonly children: Readonly<Record<string, MetadataNode>>;
  readonly listing?: string;
}

function directory(children: Record<string, MetadataNode>, listing?: string): MetadataDirectory {
  return listing === undefined ? { children } : { children, listing };
}

/** What a path names: a directory's listing, a leaf's body, or nothing. */
export type Resolved =
  { kind: 'listing'; body: string } | { kind: 'leaf'; body: string | Buffer } | { kind: 'missing' };

function isDirectory(node: MetadataNode): node is MetadataDirectory {
  return typeof node === 'object' && !Buffer.isBuffer(node);
}

function networkInterface(metadata: InstanceMetadata): MetadataNode {
  const network = metadata.network;
  return directory({
    'device-number': '0',
    'interface-id': network.interfaceId,
    'local-hostname': network.privateDnsName,
    'local-ipv4s': network.privateIp,
    mac: network.mac,
    'owner-id': metadata.accountId,
    ...(network.publicIp === undefined
      ? {}
      : { 'public-hostname': network.publicDnsName ?? '', 'public-ipv4s': network.publicIp }),
    'security-group-ids': network.securityGroups.map((group) => group.id).join('\n'),
    'security-groups': network.securityGroups.map((group) => group.name).join('\n'),
    'subnet-id': network.subnetId,
    'subnet-ipv4-cidr-block': network.subnetCidr,
    'vpc-id': network.vpcId,
    'vpc-ipv4-cidr-block': network.vpcCidr,
    'vpc-ipv4-cidr-blocks': network.vpcCidr,
  });
}

// Listed as `0=name`, reached as `public-keys/0/openssh-key`.
function publicKeys(metadata: InstanceMetadata): MetadataNode {
  const keys: Record<string, MetadataNode> = {};
  metadata.publicKeys.forEach((key, index) => {
    keys[String(index)] = directory({ 'openssh-key': `${key.openssh.trim()}\n` });
  });
  return directory(keys, metadata.publicKeys.map((key, index) => `${index}=${key.name}`).join('\n'));
}

function metaData(metadata: InstanceMetadata): MetadataNode {
  const network = metadata.network;
  return directory({
    'ami-id': metadata.imageId,
    'ami-launch-index': String(metadata.launchIndex),
    'ami-manifest-path': '(unknown)',
    'block-device-mapping': directory({ ...metadata.blockDeviceMapping }),
    hostname: network.privateDnsName,
    'instance-action': 'none',
    'instance-id': metadata.instanceId,
    'instance-life-cycle': 'on-demand',
    'instance-type': metadata.instanceType,
    'local-hostname': network.privateDnsName,
    'local-ipv4': network.privateIp,
    mac: network.mac,
    network: directory({
      interfaces: directory({ macs: directory({ [network.mac]: networkInterface(metadata) }) }),
    }),
    placement: directory({
      'availability-zone': metadata.availabilityZone,
      'availability-zone-id': metadata.availabilityZoneId,
      region: metadata.region,
    }),
    profile: 'default-hvm',
    ...(network.publicIp === undefined
      ? {}
      : { 'public-hostname': network.publicDnsName ?? '', 'public-ipv4': network.publicIp }),
    ...(metadata.publicKeys.length === 0 ? {} : { 'public-keys': publicKeys(metadata) }),
    'reservation-id': metadata.reservationId,
    'security-groups': network.securityGroups.map((group) => group.name).join('\n'),
    services: directory({ domain: 'amazonaws.com', partition: 'aws' }),
    ...(metadata.options.instanceMetadataTags === 'enabled'
      ? { tags: directory({ instance: directory({ ...metadata.tags }) }) }
      : {}),
  });
}

/** The instance identity document, as EC2 serves it (JSON, pretty-printed). */
export function identityDocument(metadata: InstanceMetadata): string {
  const document = {
    accountId: metadata.accountId,
    architecture: metadata.architecture,
    availabilityZone: metadata.availabilityZone,
    billingProducts: null,
    devpayProductCodes: null,
    marketplaceProductCodes: null,
    imageId: metadata.imageId,
    instanceId: metadata.instanceId,
    instanceType: metadata.instanceType,
    kernelId: null,
    pendingTime: metadata.pendingTime.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    privateIp: metadata.network.privateIp,
    ramdiskId: null,
    region: metadata.region,
    version: '2017-09-30',
  };
  return JSON.stringify(document, null, 2);
}

/** The whole tree under one version (`latest` or a dated one); `sign` signs the identity document. */
export function metadataTree(metadata: InstanceMetadata, sign: (document: string) => string): MetadataNode {
  const document = identityDocument(metadata);
  return directory({
    'meta-data': metaData(metadata),
    dynamic: directory({ 'instance-identity': directory({ document, signature: () => sign(document) }) }),
    ...(metadata.userData === undefined ? {} : { 'user-data': metadata.userData }),
  });
}

/** Follows `segments` from `root`. A directory answers with or without its trailing slash, as EC2's does. */
export function resolvePath(root: MetadataNode, segments: readonly string[]): Resolved {
  let node = root;
  for (const segment of segments) {
    if (!isDirectory(node) || !Object.hasOwn(node.children, segment)) return { kind: 'missing' };
    node = node.children[segment]!;
  }
  if (typeof node === 'function') return { kind: 'leaf', body: node() };
  if (!isDirectory(node)) return { kind: 'leaf', body: node };
  const children = node.children;
  const names = Object.keys(children).map((name) => (isDirectory(children[name]!) ? `${name}/` : name));
  return { kind: 'listing', body: node.listing ?? names.join('\n') };
}
