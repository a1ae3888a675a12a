// EC2's VPC model as one unit: VPCs (with every account's default VPC), subnets, route tables, internet
// gateways, network interfaces and security groups, plus the two faces other layers use: the launch port
// RunInstances plans and writes interfaces through, and the InstanceNetworkSource the host reads.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { InstanceNetworkSource, NetworkRefresh } from '../../network/instance-network.ts';
import type { Paginator } from '../common/pagination.ts';
import type { Regions } from '../common/regions.ts';
import type { TagService } from '../common/tags.ts';
import { SecurityGroupService } from '../security-groups/security-groups.ts';
import { GroupRuleService } from '../security-groups/group-rules.ts';
import { DefaultVpcs } from './default-vpc.ts';
import { GatewayService } from './gateways.ts';
import { instanceNetworkSource, noPublicAddresses, type PublicAddressOf } from './instance-network-source.ts';
import {
  attachLaunchInterface,
  planLaunchNetwork,
  type LaunchNetworkPlan,
  type NetworkRequest,
} from './launch-network.ts';
import { NetworkInterfaceService, type InterfaceView } from './network-interfaces.ts';
import { SubnetService } from './subnets.ts';
import { VpcService } from './vpcs.ts';

/** What the networking services are built from. */
export interface VpcNetworkingOptions {
  readonly db: Kysely<Database>;
  readonly regions: Regions;
  readonly paginator: Paginator;
  readonly tags: TagService;
  /** The host: told after any change to rules or membership. Optional: nothing is told without it. */
  readonly refresh?: NetworkRefresh;
  /** Public addresses of instances (the addresses service); none by default. */
  readonly publicAddressOf?: PublicAddressOf;
}

/** The port RunInstances and DescribeInstances use (cloud/instances/instances.ts). */
export interface LaunchNetworking {
  /** Checks a launch's network parameters; `zone` is Placement.AvailabilityZone if given. */
  plan(
    accountId: string,
    request: NetworkRequest,
    zone: string | undefined,
    count: number,
  ): Promise<LaunchNetworkPlan>;
  /** Writes an instance's primary interface inside the launch transaction; returns its private address. */
  attach(
    trx: Transaction<Database>,
    accountId: string,
    instanceId: string,
    plan: LaunchNetworkPlan,
  ): Promise<string>;
  /** The primary interfaces of the caller's instances `instanceIds`, by instance id. */
  interfacesOf(accountId: string, instanceIds: readonly string[]): Promise<Map<string, InterfaceView>>;
}

/** The networking services. */
export interface VpcNetworking {
  readonly defaults: DefaultVpcs;
  readonly vpcs: VpcService;
  readonly subnets: SubnetService;
  readonly gateways: GatewayService;
  readonly interfaces: NetworkInterfaceService;
  readonly groups: SecurityGroupService;
  readonly rules: GroupRuleService;
  readonly launch: LaunchNetworking;
  /** What the host reads instances' networks from. */
  readonly source: InstanceNetworkSource;
}

/** Builds the networking services. */
export function createVpcNetworking(options: VpcNetworkingOptions): VpcNetworking {
  const { db, regions, paginator, tags } = options;
  const defaults = new DefaultVpcs(db, regions);
  const deps = { db, paginator, tags, defaults };
  const changed = (): void => options.refresh?.changed();
  const interfaces = new NetworkInterfaceService(deps, regions, changed);
  const rules = new GroupRuleService({ ...deps, changed });
  return {
    defaults,
    vpcs: new VpcService(deps),
    subnets: new SubnetService(deps, regions),
    gateways: new GatewayService(deps),
    interfaces,
    groups: new SecurityGroupService(deps),
    rules,
    launch: {
      plan: (accountId, request, zone, count) =>
        planLaunchNetwork({ db, defaults, regions }, accountId, request, zone, count),
      attach: attachLaunchInterface,
      interfacesOf: (accountId, instanceIds) => interfaces.ofInstances(accountId, instanceIds),
    },
    source: instanceNetworkSource(interfaces, rules, options.publicAddressOf ?? noPublicAddresses),
  };
}
