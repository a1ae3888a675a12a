// The host side of instance networking, without QEMU or the metadata service: one VpcSwitch per VPC
// (made for its first instance, dropped after its last), each instance's interface configured on it from
// InstanceNetworkSource, and the connections to the instance's QEMU sockets. The daemon composes it with the
// metadata channels and the VM driver (daemon/instance-networking.ts).
import { rm } from 'node:fs/promises';
import { assert } from '../base/assert.ts';
import { parseIpv4, parseMac, type Ipv4 } from './frames.ts';
import type { InstanceNetwork, InstanceNetworkSource } from './instance-network.ts';
import { publicPorts, type PublicPort } from './public-forwards.ts';
import { parseCidr } from './security-filter.ts';
import { connectSwitchSockets, switchSocketPaths, type SwitchSockets } from './switch-sockets.ts';
import { VpcSwitch, type InterfaceConfig, type PortRole } from './vpc-switch.ts';

/** The metadata service's switch settings of an instance: reachable or not, and its answers' TTL. */
export interface MetadataReach {
  readonly enabled: boolean;
  readonly hopLimit: number;
}

/** One instance as the host runs it now. */
export interface HostedInstance {
  readonly network: InstanceNetwork;
  /** Where the instance's QEMU listens for its NIC and uplink. */
  readonly socketPaths: Record<PortRole, string>;
  /** The ports forwarded from network.publicIp (none without a public address). */
  readonly publicPorts: readonly PublicPort[];
}

interface Hosted extends HostedInstance {
  sockets?: SwitchSockets;
}

/** Switches and instance interfaces of this host. */
export class NetworkHost {
  readonly #directory: string;
  readonly #source: InstanceNetworkSource;
  readonly #metadataReach: (instanceId: string) => Promise<MetadataReach>;
  readonly #switches = new Map<string, VpcSwitch>();
  readonly #instances = new Map<string, Hosted>();

  /** `directory` holds the instances' switch sockets; `metadataReach` reads an instance's IMDS options. */
  constructor(
    directory: string,
    source: InstanceNetworkSource,
    metadataReach: (instanceId: string) => Promise<MetadataReach>,
  ) {
    this.#directory = directory;
    this.#source = source;
    this.#metadataReach = metadataReach;
  }

  /** Configures `instanceId` on its VPC's switch before its VM starts; undefined when it has no network. */
  async prepare(instanceId: string): Promise<HostedInstance | undefined> {
    await this.release(instanceId);
    const network = await this.#source.networkOf(instanceId);
    if (network === undefined) return undefined;
    const hosted: Hosted = {
      network,
      socketPaths: switchSocketPaths(this.#directory, instanceId),
      publicPorts: network.publicIp === undefined ? [] : publicPorts(network.policy),
    };
    let vpc = this.#switches.get(network.vpcId);
    if (vpc === undefined) {
      vpc = new VpcSwitch();
      this.#switches.set(network.vpcId, vpc);
    }
    vpc.configure(interfaceConfig(hosted, await this.#metadataReach(instanceId)));
    this.#instances.set(instanceId, hosted);
    return hosted;
  }

  /** Connects the switch to the sockets the instance's QEMU listens on (after spawn, or after adopt). */
  async connect(instanceId: string): Promise<void> {
    const hosted = this.#instances.get(instanceId);
    assert(hosted !== undefined, `NetworkHost.connect: ${instanceId} was not prepared`);
    await hosted.sockets?.close();
    hosted.sockets = await connectSwitchSockets(this.#vpc(hosted), hosted.socketPaths, instanceId);
  }

  /** Reads the source again for every hosted instance and applies it; returns the ones whose ports changed. */
  async refresh(): Promise<Map<string, HostedInstance>> {
    const changed = new Map<string, HostedInstance>();
    for (const [instanceId, hosted] of this.#instances) {
      const network = await this.#source.networkOf(instanceId);
      if (network === undefined || this.#instances.get(instanceId) !== hosted) continue;
      const ports = network.publicIp === undefined ? [] : publicPorts(network.policy);
      const next: Hosted = { ...hosted, network, publicPorts: ports };
      this.#vpc(hosted).configure(interfaceConfig(next, await this.#metadataReach(instanceId)));
      this.#instances.set(instanceId, next);
      if (forwardsKey(hosted) !== forwardsKey(next)) changed.set(instanceId, next);
    }
    return changed;
  }

  /** Disconnects and removes an instance; drops its switch after the last one. Safe to call again. */
  async release(instanceId: string): Promise<void> {
    const hosted = this.#instances.get(instanceId);
    if (hosted === undefined) return;
    this.#instances.delete(instanceId);
    await hosted.sockets?.close();
    const vpc = this.#vpc(hosted);
    vpc.remove(instanceId);
    if (vpc.empty) this.#switches.delete(hosted.network.vpcId);
    for (const path of Object.values(hosted.socketPaths)) await rm(path, { force: true });
  }

  /** An instance as hosted now; undefined when it is not. */
  instance(instanceId: string): HostedInstance | undefined {
    return this.#instances.get(instanceId);
  }

  /** Instances hosted now. */
  get instanceIds(): string[] {
    return [...this.#instances.keys()];
  }

  /** The switch of a VPC, while it has instances (tests, counters). */
  switchOf(vpcId: string): VpcSwitch | undefined {
    return this.#switches.get(vpcId);
  }

  /** Disconnects every instance (daemon shutdown; the VMs keep running for the next daemon). */
  async close(): Promise<void> {
    for (const hosted of this.#instances.values()) await hosted.sockets?.close();
    this.#instances.clear();
    this.#switches.clear();
  }

  #vpc(hosted: HostedInstance): VpcSwitch {
    const vpc = this.#switches.get(hosted.network.vpcId);
    assert(vpc !== undefined, `NetworkHost: no switch for ${hosted.network.vpcId}`);
    return vpc;
  }
}

function forwardsKey(hosted: HostedInstance): string {
  return `${hosted.network.publicIp ?? ''}|${hosted.publicPorts.map((p) => `${p.protocol}/${p.port}`).join(',')}`;
}

function required<T>(value: T | undefined, what: string): T {
  assert(value !== undefined, `InstanceNetwork: bad ${what}`);
  return value;
}

function interfaceConfig(hosted: HostedInstance, metadata: MetadataReach): InterfaceConfig {
  const { network } = hosted;
  const ports = (protocol: 'tcp' | 'udp'): Set<number> =>
    new Set(hosted.publicPorts.filter((p) => p.protocol === protocol).map((p) => p.port));
  const privateIp: Ipv4 = required(parseIpv4(network.privateIp), 'privateIp');
  return {
    instanceId: network.instanceId,
    mac: required(parseMac(network.mac), 'mac'),
    privateIp,
    subnet: required(parseCidr(network.subnetCidr, parseIpv4), 'subnetCidr'),
    policy: network.policy,
    publicPorts: { tcp: ports('tcp'), udp: ports('udp') },
    metadata,
  };
}
