// EC2 VPC actions: VPCs, subnets, route tables, internet gateways, network interfaces and the account
// attributes that name the default VPC. The semantics live in cloud/vpc/; this file reads parameters and
// shapes EC2's XML.
import type { Tagged } from '../../../cloud/vpc/vpcs.ts';
import type { InternetGatewayRow, VpcRow } from '../../../cloud/vpc/vpc-rows.ts';
import type { SubnetView } from '../../../cloud/vpc/subnets.ts';
import type { RouteTableView } from '../../../cloud/vpc/gateways.ts';
import type { DescribeRequest } from '../../../cloud/vpc/describe-resources.ts';
import { defineAction } from '../action.ts';
import type { XmlObject } from '../xml.ts';
import type { QueryParams } from '../query-params.ts';
import { checkDryRun, dryRunCheck } from '../dry-run.ts';
import { tagSet } from './volumes.ts';
import { networkInterfaceXml } from './network-xml.ts';

/** A Describe* request: `idName.N`, Filter.N, MaxResults and NextToken. */
export function describeRequest(params: QueryParams, idName: string): DescribeRequest {
  return { ids: params.list(idName), filters: params.filters(), ...params.page() };
}

function hexOf(id: string): string {
  return id.slice(id.indexOf('-') + 1);
}

/** A VPC as EC2 renders it. */
export function vpcXml({ row, tags }: Tagged<VpcRow>): XmlObject {
  return {
    vpcId: row.id,
    ownerId: row.account_id,
    state: 'available',
    cidrBlock: row.cidr_block,
    cidrBlockAssociationSet: [
      {
        associationId: `vpc-cidr-assoc-${hexOf(row.id)}`,
        cidrBlock: row.cidr_block,
        cidrBlockState: { state: 'associated' },
      },
    ],
    dhcpOptionsId: 'default',
    instanceTenancy: row.instance_tenancy,
    isDefault: row.is_default === 1,
    tagSet: tags.size > 0 ? tagSet(tags) : undefined,
  };
}

/** A subnet as EC2 renders it. */
export function subnetXml(subnet: SubnetView, region: string): XmlObject {
  const { row, tags } = subnet;
  return {
    subnetId: row.id,
    subnetArn: `arn:aws:ec2:${region}:${row.account_id}:subnet/${row.id}`,
    state: 'available',
    ownerId: row.account_id,
    vpcId: row.vpc_id,
    cidrBlock: row.cidr_block,
    ipv6CidrBlockAssociationSet: [],
    availableIpAddressCount: subnet.availableIpAddressCount,
    availabilityZone: row.availability_zone,
    availabilityZoneId: subnet.zoneId,
    defaultForAz: row.default_for_az === 1,
    mapPublicIpOnLaunch: row.map_public_ip_on_launch === 1,
    assignIpv6AddressOnCreation: false,
    mapCustomerOwnedIpOnLaunch: false,
    enableDns64: false,
    ipv6Native: false,
    privateDnsNameOptionsOnLaunch: {
      hostnameType: 'ip-name',
      enableResourceNameDnsARecord: false,
      enableResourceNameDnsAAAARecord: false,
    },
    tagSet: tags.size > 0 ? tagSet(tags) : undefined,
  };
}

function routeTableXml(table: RouteTableView): XmlObject {
  const { row, tags } = table;
  const local = {
    destinationCidrBlock: table.vpcCidr,
    gatewayId: 'local',
    state: 'active',
    origin: 'CreateRouteTable',
  };
  const internet =
    row.gateway_id === null
      ? []
      : [
          {
            destinationCidrBlock: '0.0.0.0/0',
            gatewayId: row.gateway_id,
            state: 'active',
            origin: 'CreateRoute',
          },
        ];
  return {
    routeTableId: row.id,
    vpcId: row.vpc_id,
    ownerId: row.account_id,
    routeSet: [local, ...internet],
    associationSet:
      row.is_main === 1
        ? [
            {
              routeTableAssociationId: `rtbassoc-${hexOf(row.id)}`,
              routeTableId: row.id,
              main: true,
              associationState: { state: 'associated' },
            },
          ]
        : [],
    propagatingVgwSet: [],
    tagSet: tags.size > 0 ? tagSet(tags) : undefined,
  };
}

function gatewayXml({ row, tags }: Tagged<InternetGatewayRow>): XmlObject {
  return {
    internetGatewayId: row.id,
    ownerId: row.account_id,
    attachmentSet: row.vpc_id === null ? [] : [{ vpcId: row.vpc_id, state: 'available' }],
    tagSet: tags.size > 0 ? tagSet(tags) : undefined,
  };
}

/** EC2 CreateVpc. */
export const createVpc = defineAction({
  name: 'CreateVpc',
  params: ['CidrBlock', 'InstanceTenancy', 'TagSpecification.N', 'DryRun'],
  status: 'partial',
  notes: 'IPv4 only (no IPv6 blocks or IPAM pools)',
  async run(ctx, params) {
    const vpc = await ctx.cloud.vpc.vpcs.create(ctx.accountId, {
      cidrBlock: params.string('CidrBlock'),
      instanceTenancy: params.string('InstanceTenancy'),
      tagSpecifications: params.tagSpecifications(),
      dryRun: dryRunCheck(ctx, params),
    });
    return { vpc: vpcXml(vpc) };
  },
});

/** EC2 DescribeVpcs. */
export const describeVpcs = defineAction({
  name: 'DescribeVpcs',
  params: ['VpcId.N', 'Filter.N', 'MaxResults', 'NextToken', 'DryRun'],
  async run(ctx, params) {
    const request = describeRequest(params, 'VpcId');
    checkDryRun(ctx, params);
    const page = await ctx.cloud.vpc.vpcs.describe(ctx.accountId, request);
    return { vpcSet: page.items.map(vpcXml), nextToken: page.nextToken };
  },
});

/** EC2 DeleteVpc. */
export const deleteVpc = defineAction({
  name: 'DeleteVpc',
  params: ['VpcId', 'DryRun'],
  async run(ctx, params) {
    await ctx.cloud.vpc.vpcs.delete(ctx.accountId, params.requiredString('VpcId'), dryRunCheck(ctx, params));
    return { return: true };
  },
});

/** EC2 CreateDefaultVpc. */
export const createDefaultVpc = defineAction({
  name: 'CreateDefaultVpc',
  params: ['DryRun'],
  async run(ctx, params) {
    const vpc = await ctx.cloud.vpc.vpcs.createDefault(ctx.accountId, dryRunCheck(ctx, params));
    return { vpc: vpcXml(vpc) };
  },
});

/** EC2 CreateSubnet. */
export const createSubnet = defineAction({
  name: 'CreateSubnet',
  params: ['VpcId', 'CidrBlock', 'AvailabilityZone', 'TagSpecification.N', 'DryRun'],
  status: 'partial',
  notes: 'IPv4 only; AvailabilityZoneId is not read',
  async run(ctx, params) {
    const subnet = await ctx.cloud.vpc.subnets.create(ctx.accountId, {
      vpcId: params.string('VpcId'),
      cidrBlock: params.string('CidrBlock'),
      zone: params.string('AvailabilityZone') || undefined,
      tagSpecifications: params.tagSpecifications(),
      dryRun: dryRunCheck(ctx, params),
    });
    return { subnet: subnetXml(subnet, ctx.cloud.regions.region) };
  },
});

/** EC2 DescribeSubnets. */
export const describeSubnets = defineAction({
  name: 'DescribeSubnets',
  params: ['SubnetId.N', 'Filter.N', 'MaxResults', 'NextToken', 'DryRun'],
  async run(ctx, params) {
    const request = describeRequest(params, 'SubnetId');
    checkDryRun(ctx, params);
    const page = await ctx.cloud.vpc.subnets.describe(ctx.accountId, request);
    const region = ctx.cloud.regions.region;
    return { subnetSet: page.items.map((s) => subnetXml(s, region)), nextToken: page.nextToken };
  },
});

/** EC2 DeleteSubnet. */
export const deleteSubnet = defineAction({
  name: 'DeleteSubnet',
  params: ['SubnetId', 'DryRun'],
  async run(ctx, params) {
    const subnetId = params.requiredString('SubnetId');
    await ctx.cloud.vpc.subnets.delete(ctx.accountId, subnetId, dryRunCheck(ctx, params));
    return { return: true };
  },
});

/** EC2 DescribeRouteTables. */
export const describeRouteTables = defineAction({
  name: 'DescribeRouteTables',
  params: ['RouteTableId.N', 'Filter.N', 'MaxResults', 'NextToken', 'DryRun'],
  status: 'partial',
  notes: 'each VPC has its main table only: the local route and 0.0.0.0/0 to its internet gateway',
  async run(ctx, params) {
    const request = describeRequest(params, 'RouteTableId');
    checkDryRun(ctx, params);
    const page = await ctx.cloud.vpc.gateways.describeRouteTables(ctx.accountId, request);
    return { routeTableSet: page.items.map(routeTableXml), nextToken: page.nextToken };
  },
});

/** EC2 DescribeInternetGateways. */
export const describeInternetGateways = defineAction({
  name: 'DescribeInternetGateways',
  params: ['InternetGatewayId.N', 'Filter.N', 'MaxResults', 'NextToken', 'DryRun'],
  async run(ctx, params) {
    const request = describeRequest(params, 'InternetGatewayId');
    checkDryRun(ctx, params);
    const page = await ctx.cloud.vpc.gateways.describeGateways(ctx.accountId, request);
    return { internetGatewaySet: page.items.map(gatewayXml), nextToken: page.nextToken };
  },
});

/** EC2 CreateInternetGateway. */
export const createInternetGateway = defineAction({
  name: 'CreateInternetGateway',
  params: ['TagSpecification.N', 'DryRun'],
  async run(ctx, params) {
    const gateway = await ctx.cloud.vpc.gateways.createGateway(
      ctx.accountId,
      params.tagSpecifications(),
      dryRunCheck(ctx, params),
    );
    return { internetGateway: gatewayXml(gateway) };
  },
});

/** EC2 AttachInternetGateway. */
export const attachInternetGateway = defineAction({
  name: 'AttachInternetGateway',
  params: ['InternetGatewayId', 'VpcId', 'DryRun'],
  async run(ctx, params) {
    const gatewayId = params.requiredString('InternetGatewayId');
    const vpcId = params.requiredString('VpcId');
    await ctx.cloud.vpc.gateways.attach(ctx.accountId, gatewayId, vpcId, dryRunCheck(ctx, params));
    return { return: true };
  },
});

/** EC2 DetachInternetGateway. */
export const detachInternetGateway = defineAction({
  name: 'DetachInternetGateway',
  params: ['InternetGatewayId', 'VpcId', 'DryRun'],
  async run(ctx, params) {
    const gatewayId = params.requiredString('InternetGatewayId');
    const vpcId = params.requiredString('VpcId');
    await ctx.cloud.vpc.gateways.detach(ctx.accountId, gatewayId, vpcId, dryRunCheck(ctx, params));
    return { return: true };
  },
});

/** EC2 DeleteInternetGateway. */
export const deleteInternetGateway = defineAction({
  name: 'DeleteInternetGateway',
  params: ['InternetGatewayId', 'DryRun'],
  async run(ctx, params) {
    const gatewayId = params.requiredString('InternetGatewayId');
    await ctx.cloud.vpc.gateways.deleteGateway(ctx.accountId, gatewayId, dryRunCheck(ctx, params));
    return { return: true };
  },
});

/** EC2 DescribeNetworkInterfaces. */
export const describeNetworkInterfaces = defineAction({
  name: 'DescribeNetworkInterfaces',
  params: ['NetworkInterfaceId.N', 'Filter.N', 'MaxResults', 'NextToken', 'DryRun'],
  status: 'partial',
  notes: "instances' primary interfaces only (no CreateNetworkInterface)",
  async run(ctx, params) {
    const request = describeRequest(params, 'NetworkInterfaceId');
    checkDryRun(ctx, params);
    const page = await ctx.cloud.vpc.interfaces.describe(ctx.accountId, request);
    return { networkInterfaceSet: page.items.map(networkInterfaceXml), nextToken: page.nextToken };
  },
});

/** EC2 DescribeAccountAttributes. */
export const describeAccountAttributes = defineAction({
  name: 'DescribeAccountAttributes',
  params: ['AttributeName.N', 'DryRun'],
  async run(ctx, params) {
    const names = params.list('AttributeName');
    checkDryRun(ctx, params);
    const attributes = await ctx.cloud.vpc.vpcs.accountAttributes(ctx.accountId, names);
    return {
      accountAttributeSet: attributes.map(([attributeName, values]) => ({
        attributeName,
        attributeValueSet: values.map((attributeValue) => ({ attributeValue })),
      })),
    };
  },
});

/** Every VPC action, for the registry. */
export const vpcActions = [
  describeAccountAttributes,
  createVpc,
  describeVpcs,
  deleteVpc,
  createDefaultVpc,
  createSubnet,
  describeSubnets,
  deleteSubnet,
  describeRouteTables,
  createInternetGateway,
  describeInternetGateways,
  attachInternetGateway,
  detachInternetGateway,
  deleteInternetGateway,
  describeNetworkInterfaces,
] as const;
