// EC2 address actions: AllocateAddress, AssociateAddress, DisassociateAddress, ReleaseAddress and
// DescribeAddresses. The semantics live in cloud/addresses/addresses.ts; this file reads parameters and
// shapes EC2's XML.
import type { Address } from '../../../cloud/addresses/addresses.ts';
import { defineAction } from '../action.ts';
import { checkDryRun, dryRunCheck } from '../dry-run.ts';
import type { XmlObject } from '../xml.ts';
import { tagSet } from './volumes.ts';

function addressXml(address: Address, region: string): XmlObject {
  const { row, tags } = address;
  return {
    publicIp: row.public_ip,
    allocationId: row.allocation_id,
    domain: row.domain,
    instanceId: row.instance_id ?? undefined,
    associationId: row.association_id ?? undefined,
    networkInterfaceId: row.network_interface_id ?? undefined,
    networkInterfaceOwnerId: row.network_interface_id === null ? undefined : row.account_id,
    privateIpAddress: row.private_ip ?? undefined,
    tagSet: tags.size > 0 ? tagSet(tags) : undefined,
    publicIpv4Pool: 'amazon',
    networkBorderGroup: region,
  };
}

/** EC2 AllocateAddress. */
export const allocateAddress = defineAction({
  name: 'AllocateAddress',
  params: ['Domain', 'TagSpecification.N', 'DryRun'],
  status: 'partial',
  notes: 'addresses come from 127.100.128.0/17 on this host (docs/networking.md); no BYOIP or address pools',
  async run(ctx, params) {
    const address = await ctx.cloud.compute.addresses.allocate(
      ctx.accountId,
      params.string('Domain'),
      params.tagSpecifications(),
      dryRunCheck(ctx, params),
    );
    const { publicIp, domain, allocationId, publicIpv4Pool, networkBorderGroup } = addressXml(
      address,
      ctx.region,
    );
    return { publicIp, domain, allocationId, publicIpv4Pool, networkBorderGroup };
  },
});

/** EC2 AssociateAddress. */
export const associateAddress = defineAction({
  name: 'AssociateAddress',
  params: ['AllocationId', 'PublicIp', 'InstanceId', 'NetworkInterfaceId', 'AllowReassociation', 'DryRun'],
  status: 'partial',
  notes: 'associates with the primary private address only (PrivateIpAddress is not read)',
  async run(ctx, params) {
    const associationId = await ctx.cloud.compute.addresses.associate(ctx.accountId, {
      allocationId: params.string('AllocationId') || undefined,
      publicIp: params.string('PublicIp') || undefined,
      instanceId: params.string('InstanceId') || undefined,
      networkInterfaceId: params.string('NetworkInterfaceId') || undefined,
      allowReassociation: params.boolean('AllowReassociation') === true,
      dryRun: dryRunCheck(ctx, params),
    });
    return { return: true, associationId };
  },
});

/** EC2 DisassociateAddress. */
export const disassociateAddress = defineAction({
  name: 'DisassociateAddress',
  params: ['AssociationId', 'PublicIp', 'DryRun'],
  async run(ctx, params) {
    await ctx.cloud.compute.addresses.disassociate(
      ctx.accountId,
      params.string('AssociationId') || undefined,
      params.string('PublicIp') || undefined,
      dryRunCheck(ctx, params),
    );
    return { return: true };
  },
});

/** EC2 ReleaseAddress. */
export const releaseAddress = defineAction({
  name: 'ReleaseAddress',
  params: ['AllocationId', 'PublicIp', 'NetworkBorderGroup', 'DryRun'],
  async run(ctx, params) {
    await ctx.cloud.compute.addresses.release(
      ctx.accountId,
      params.string('AllocationId') || undefined,
      params.string('PublicIp') || undefined,
      dryRunCheck(ctx, params),
    );
    return { return: true };
  },
});

/** EC2 DescribeAddresses. */
export const describeAddresses = defineAction({
  name: 'DescribeAddresses',
  params: ['PublicIp.N', 'AllocationId.N', 'Filter.N', 'DryRun'],
  async run(ctx, params) {
    const publicIps = params.list('PublicIp');
    const allocationIds = params.list('AllocationId');
    const filters = params.filters();
    checkDryRun(ctx, params);
    const addresses = await ctx.cloud.compute.addresses.describe(
      ctx.accountId,
      publicIps,
      allocationIds,
      filters,
    );
    return { addressesSet: addresses.map((a) => addressXml(a, ctx.region)) };
  },
});

/** Every address action, for the registry. */
export const addressActions = [
  allocateAddress,
  associateAddress,
  disassociateAddress,
  releaseAddress,
  describeAddresses,
] as const;
