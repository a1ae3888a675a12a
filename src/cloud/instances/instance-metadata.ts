// The metadata service's source (metadata/metadata.ts): what one instance's guest may learn about itself,
// read from the instance row, its disks, its tags, its launch key, its metadata options and user data, and
// its network from the VPC model (network/instance-network.ts). Read on every request, never cached, so a
// change (ModifyInstanceMetadataOptions, a new Elastic IP, tags) shows at the next request.
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { InstanceMetadata, MetadataSource } from '../../metadata/metadata.ts';
import type { InstanceNetwork, InstanceNetworkSource } from '../../network/instance-network.ts';
import type { Regions } from '../common/regions.ts';
import type { TagService } from '../common/tags.ts';
import { mappingsOf, type InstanceMappingRow } from './disks.ts';
import type { InstanceRow } from './instance-records.ts';
import { metadataOptionsOf } from './launch-access.ts';

/** What the source reads. */
export interface InstanceMetadataDeps {
  readonly db: Kysely<Database>;
  readonly regions: Regions;
  readonly tags: TagService;
  /** The VPC model's view of each instance's interface. */
  readonly networks: InstanceNetworkSource;
}

// A guest asks only while its instance runs; these states have no guest, or one being torn down.
const goneStates = new Set(['shutting-down', 'terminated']);

/** The MetadataSource over cloud/'s tables: undefined for an instance that is gone or has no network. */
export function instanceMetadataSource(deps: InstanceMetadataDeps): MetadataSource {
  return async (instanceId) => {
    const row = await deps.db
      .selectFrom('instances')
      .selectAll()
      .where('id', '=', instanceId)
      .executeTakeFirst();
    if (row === undefined || goneStates.has(row.state)) return undefined;
    const network = await deps.networks.networkOf(instanceId);
    if (network === undefined) return undefined;
    const mappings = await mappingsOf(deps.db, [instanceId]);
    const tags =
      (await deps.tags.tagsOf(row.account_id, [instanceId])).get(instanceId) ?? new Map<string, string>();
    return {
      instanceId,
      imageId: row.image_id,
      instanceType: row.instance_type,
      launchIndex: row.launch_index,
      reservationId: row.reservation_id,
      accountId: row.account_id,
      region: deps.regions.region,
      availabilityZone: row.availability_zone,
      availabilityZoneId: deps.regions.zone(row.availability_zone)?.zoneId ?? '',
      pendingTime: new Date(row.launch_time),
      architecture: 'x86_64',
      network: networkMetadata(row, network),
      publicKeys:
        row.key_name !== null && row.key_public_key !== null
          ? [{ name: row.key_name, openssh: row.key_public_key }]
          : [],
      blockDeviceMapping: blockDeviceMapping(row.root_device_name, mappings),
      ...(row.user_data !== null ? { userData: Buffer.from(row.user_data, 'base64') } : {}),
      tags: Object.fromEntries(tags),
      options: metadataOptionsOf(row),
    };
  };
}

// The public address is the row's (cloud/addresses/ writes it), whatever the network source last saw.
function networkMetadata(row: InstanceRow, network: InstanceNetwork): InstanceMetadata['network'] {
  const publicIp = row.public_ip ?? network.publicIp;
  const publicDnsName = row.public_dns_name ?? network.publicDnsName;
  return {
    mac: network.mac,
    interfaceId: network.interfaceId,
    privateIp: network.privateIp,
    privateDnsName: network.privateDnsName,
    ...(publicIp !== undefined ? { publicIp } : {}),
    ...(publicDnsName !== undefined ? { publicDnsName } : {}),
    subnetId: network.subnetId,
    subnetCidr: network.subnetCidr,
    vpcId: network.vpcId,
    vpcCidr: network.vpcCidr,
    securityGroups: network.securityGroups,
  };
}

/**
 * EC2's block-device-mapping/ category: `ami` and `root` name the root device; EBS volumes are numbered
 * `ebsN` from 1 in launch order (the root takes a number but is listed as root); instance-store disks keep
 * their `ephemeralN` names. Other devices are given without `/dev/`, as EC2 shows them (`sdf`).
 */
export function blockDeviceMapping(
  rootDeviceName: string,
  mappings: readonly InstanceMappingRow[],
): Record<string, string> {
  const result: Record<string, string> = { ami: rootDeviceName, root: rootDeviceName };
  let ebs = 0;
  for (const mapping of [...mappings].sort((a, b) => a.position - b.position)) {
    const short = mapping.device_name.replace(/^\/dev\//, '');
    if (mapping.virtual_name !== null) {
      result[mapping.virtual_name] = short;
      continue;
    }
    if (mapping.no_device === 1 || (mapping.volume_id === null && mapping.snapshot_id === null)) continue;
    ebs++;
    if (mapping.device_name !== rootDeviceName) result[`ebs${ebs}`] = short;
  }
  return result;
}
