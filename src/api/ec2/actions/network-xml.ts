// The network half of an instance in DescribeInstances (vpcId, subnetId, private address and DNS name,
// groupSet, networkInterfaceSet) and a network interface in DescribeNetworkInterfaces.
import type { InterfaceView } from '../../../cloud/vpc/network-interfaces.ts';
import type { XmlObject } from '../xml.ts';
import { tagSet } from './volumes.ts';

function groupSet(nic: InterfaceView): XmlObject[] {
  return nic.groups.map((g) => ({ groupName: g.name, groupId: g.id }));
}

function privateAddresses(nic: InterfaceView): XmlObject[] {
  return [{ privateIpAddress: nic.row.private_ip, privateDnsName: nic.privateDnsName, primary: true }];
}

function attachmentXml({ row }: InterfaceView): XmlObject {
  return {
    attachmentId: row.attachment_id,
    deviceIndex: row.device_index,
    status: 'attached',
    attachTime: row.created_at,
    deleteOnTermination: true,
    networkCardIndex: 0,
  };
}

/** An instance's interface as EC2's instance networkInterfaceSet item. */
export function instanceInterfaceXml(nic: InterfaceView): XmlObject {
  const { row } = nic;
  return {
    networkInterfaceId: row.id,
    subnetId: row.subnet_id,
    vpcId: row.vpc_id,
    description: row.description,
    ownerId: row.account_id,
    status: 'in-use',
    macAddress: row.mac,
    privateIpAddress: row.private_ip,
    privateDnsName: nic.privateDnsName,
    sourceDestCheck: true,
    groupSet: groupSet(nic),
    attachment: attachmentXml(nic),
    privateIpAddressesSet: privateAddresses(nic),
    interfaceType: 'interface',
  };
}

/** The network elements of an instance; an instance without an interface (terminated) shows none. */
export function instanceNetworkXml(nic: InterfaceView | undefined): XmlObject {
  if (nic === undefined) return {};
  return {
    privateDnsName: nic.privateDnsName,
    privateIpAddress: nic.row.private_ip,
    subnetId: nic.row.subnet_id,
    vpcId: nic.row.vpc_id,
    sourceDestCheck: true,
    groupSet: groupSet(nic),
    networkInterfaceSet: [instanceInterfaceXml(nic)],
  };
}

/** A network interface as DescribeNetworkInterfaces renders it. */
export function networkInterfaceXml(nic: InterfaceView): XmlObject {
  const { row } = nic;
  return {
    ...instanceInterfaceXml(nic),
    availabilityZone: row.availability_zone,
    requesterManaged: false,
    attachment: { ...attachmentXml(nic), instanceId: row.instance_id, instanceOwnerId: row.account_id },
    tagSet: tagSet(nic.tags),
    ipv6AddressesSet: [],
  };
}
