// One VPC's virtual switch. Every instance NIC is a port, and so is each instance's uplink: the libslirp
// of its own QEMU, which is the subnet's router (.1), DHCP server, and the metadata relay (.3). The switch
// is the one place guest traffic is allowed or dropped (docs/networking.md).
import { assert } from '../base/assert.ts';
import {
  arpReply,
  ETHERTYPE_ARP,
  IP_PROTOCOL,
  rewriteIpv4Address,
  setIpv4Ttl,
  setMacs,
  viewFrame,
  type FrameView,
  type Ipv4,
  type Ipv4View,
  type Mac,
} from './frames.ts';
import {
  cidrContains,
  connectionAllowed,
  FlowTable,
  type Cidr,
  type InterfacePolicy,
} from './security-filter.ts';

/** The link-local address guests reach the instance metadata service at. */
export const METADATA_ADDRESS: Ipv4 = 0xa9fea9fe; // 169.254.169.254
const METADATA_PORT = 80;
const DHCP_SERVER_PORT = 67;
const DHCP_CLIENT_PORT = 68;
const ARP_REQUEST = 1;

/** Where frames leave the switch: a QEMU stream netdev (StreamPort) or a test's recorder. */
export interface FramePort {
  send(frame: Buffer): void;
}

/** Which of an instance's two ports a frame came in on. */
export type PortRole = 'nic' | 'uplink';

/** One instance's interface on the switch. */
export interface InterfaceConfig {
  readonly instanceId: string;
  readonly mac: Mac;
  readonly privateIp: Ipv4;
  readonly subnet: Cidr;
  readonly policy: InterfacePolicy;
  /** Ports forwarded from the instance's public address; the guest's replies from them may reach the uplink. */
  readonly publicPorts: { readonly tcp: ReadonlySet<number>; readonly udp: ReadonlySet<number> };
  /** Metadata service: off drops the guest's packets to it; hopLimit is the TTL of its answers. */
  readonly metadata: { readonly enabled: boolean; readonly hopLimit: number };
}

/** The subnet's reserved addresses, as EC2 reserves them: router .1, DNS .2, metadata relay .3. */
export function reservedAddresses(subnet: Cidr): { router: Ipv4; dns: Ipv4; metadataRelay: Ipv4 } {
  return { router: subnet.network + 1, dns: subnet.network + 2, metadataRelay: subnet.network + 3 };
}

/** The MAC libslirp answers for one of its addresses: 52:55 followed by the address. */
export function slirpMac(address: Ipv4): Mac {
  return `5255${address.toString(16).padStart(8, '0')}`;
}

interface Attachment {
  config: InterfaceConfig;
  nic?: FramePort;
  uplink?: FramePort;
}

/** Counters, for tests and the log: what the switch did with the frames it saw. */
export interface SwitchCounters {
  forwarded: number;
  dropped: number;
}

/** The switch of one VPC. Frames come in through `receive`; ports are attached per instance. */
export class VpcSwitch {
  readonly #byInstance = new Map<string, Attachment>();
  readonly #byAddress = new Map<Ipv4, Attachment>();
  readonly #flows: FlowTable;
  readonly counters: SwitchCounters = { forwarded: 0, dropped: 0 };

  constructor(flows: FlowTable = new FlowTable()) {
    this.#flows = flows;
  }

  /** Adds (or replaces the settings of) an instance's interface. Its private IP must be free in the VPC. */
  configure(config: InterfaceConfig): void {
    assert(cidrContains(config.subnet, config.privateIp), 'VpcSwitch: private IP outside its subnet');
    const holder = this.#byAddress.get(config.privateIp);
    assert(holder === undefined || holder.config.instanceId === config.instanceId, 'VpcSwitch: IP taken');
    const attachment = this.#byInstance.get(config.instanceId) ?? { config };
    if (attachment.config.privateIp !== config.privateIp) this.#byAddress.delete(attachment.config.privateIp);
    attachment.config = config;
    this.#byInstance.set(config.instanceId, attachment);
    this.#byAddress.set(config.privateIp, attachment);
  }

  /** Connects one of a configured instance's ports; undefined disconnects it. */
  connect(instanceId: string, role: PortRole, port: FramePort | undefined): void {
    const attachment = this.#byInstance.get(instanceId);
    assert(attachment !== undefined, `VpcSwitch: ${instanceId} is not configured`);
    attachment[role] = port;
  }

  /** Disconnects `port` if it is still the instance's `role` port (a newer connection may have replaced it). */
  disconnectPort(instanceId: string, role: PortRole, port: FramePort): void {
    const attachment = this.#byInstance.get(instanceId);
    if (attachment?.[role] === port) attachment[role] = undefined;
  }

  /** Whether any instance is configured (a switch without one can be dropped). */
  get empty(): boolean {
    return this.#byInstance.size === 0;
  }

  /** Removes an instance and both its ports. */
  remove(instanceId: string): void {
    const attachment = this.#byInstance.get(instanceId);
    if (attachment === undefined) return;
    this.#byInstance.delete(instanceId);
    this.#byAddress.delete(attachment.config.privateIp);
  }

  /** Handles one frame that arrived on `instanceId`'s `role` port. */
  receive(instanceId: string, role: PortRole, frame: Buffer): void {
    const attachment = this.#byInstance.get(instanceId);
    const view = viewFrame(frame);
    const delivered =
      attachment !== undefined &&
      view !== undefined &&
      (role === 'nic' ? this.#fromGuest(attachment, view, frame) : this.#fromUplink(attachment, view, frame));
    if (delivered) this.counters.forwarded += 1;
    else this.counters.dropped += 1;
  }

  #fromGuest(source: Attachment, view: FrameView, frame: Buffer): boolean {
    const { config } = source;
    if (view.sourceMac !== config.mac) return false;
    if (view.etherType === ETHERTYPE_ARP) return this.#arpFromGuest(source, view, frame);
    const packet = view.ipv4;
    if (packet === undefined) return false;
    if (isDhcp(packet, DHCP_CLIENT_PORT, DHCP_SERVER_PORT)) return send(source.uplink, frame);
    if (packet.source !== config.privateIp) return false;
    const reserved = reservedAddresses(config.subnet);
    if (packet.destination === METADATA_ADDRESS) {
      if (!config.metadata.enabled || !isTcpTo(packet, METADATA_PORT)) return false;
      rewriteIpv4Address(frame, packet, 'destination', reserved.metadataRelay);
      return send(source.uplink, frame);
    }
    const target = this.#byAddress.get(packet.destination);
    if (target !== undefined && target !== source) return this.#between(source, target, packet, frame);
    if (packet.destination === reserved.router && isPublicReply(config, packet))
      return send(source.uplink, frame);
    return false;
  }

  #arpFromGuest(source: Attachment, view: FrameView, frame: Buffer): boolean {
    const arp = view.arp;
    if (arp === undefined || arp.senderIp !== source.config.privateIp) return false;
    if (arp.operation !== ARP_REQUEST) return send(source.uplink, frame);
    const target = this.#byAddress.get(arp.targetIp);
    if (target !== undefined && target !== source && cidrContains(source.config.subnet, arp.targetIp)) {
      return send(source.nic, arpReply(view, target.config.mac));
    }
    const reserved = reservedAddresses(source.config.subnet);
    const toUplink = [reserved.router, reserved.dns, reserved.metadataRelay].includes(arp.targetIp);
    return toUplink && send(source.uplink, frame);
  }

  #between(source: Attachment, target: Attachment, packet: Ipv4View, frame: Buffer): boolean {
    const allowed =
      this.#flows.admitsTracked(packet) ||
      (connectionAllowed(packet, source.config.policy, target.config.policy) &&
        (this.#flows.track(packet), true));
    if (!allowed) return false;
    if (cidrContains(target.config.subnet, source.config.privateIp)) {
      setMacs(frame, target.config.mac, source.config.mac);
    } else {
      // Routed between subnets: the frame now comes from the target subnet's router, one hop later.
      if (packet.ttl <= 1) return false;
      setIpv4Ttl(frame, packet.ttl - 1);
      setMacs(frame, target.config.mac, slirpMac(reservedAddresses(target.config.subnet).router));
    }
    return send(target.nic, frame);
  }

  #fromUplink(target: Attachment, view: FrameView, frame: Buffer): boolean {
    const { config } = target;
    if (view.etherType === ETHERTYPE_ARP) return send(target.nic, frame);
    const packet = view.ipv4;
    if (packet === undefined) return false;
    if (isDhcp(packet, DHCP_SERVER_PORT, DHCP_CLIENT_PORT)) return send(target.nic, frame);
    if (packet.destination !== config.privateIp) return false;
    const reserved = reservedAddresses(config.subnet);
    if (packet.source === reserved.metadataRelay && packet.ports?.source === METADATA_PORT) {
      rewriteIpv4Address(frame, packet, 'source', METADATA_ADDRESS);
      setIpv4Ttl(frame, config.metadata.hopLimit);
      return send(target.nic, frame);
    }
    return packet.source === reserved.router && isPublicRequest(config, packet) && send(target.nic, frame);
  }
}

function send(port: FramePort | undefined, frame: Buffer): boolean {
  if (port === undefined) return false;
  port.send(frame);
  return true;
}

function isDhcp(packet: Ipv4View, sourcePort: number, destinationPort: number): boolean {
  return (
    packet.protocol === IP_PROTOCOL.udp &&
    packet.ports?.source === sourcePort &&
    packet.ports.destination === destinationPort
  );
}

function isTcpTo(packet: Ipv4View, port: number): boolean {
  return packet.protocol === IP_PROTOCOL.tcp && packet.ports?.destination === port;
}

function publicPortsOf(config: InterfaceConfig, packet: Ipv4View): ReadonlySet<number> | undefined {
  if (packet.protocol === IP_PROTOCOL.tcp) return config.publicPorts.tcp;
  if (packet.protocol === IP_PROTOCOL.udp) return config.publicPorts.udp;
  return undefined;
}

/** A packet libslirp delivers for a host-forwarded connection: to one of the forwarded ports. */
function isPublicRequest(config: InterfaceConfig, packet: Ipv4View): boolean {
  const ports = packet.ports;
  return ports !== undefined && publicPortsOf(config, packet)?.has(ports.destination) === true;
}

/** The guest's side of a host-forwarded connection: from one of the forwarded ports. */
function isPublicReply(config: InterfaceConfig, packet: Ipv4View): boolean {
  const ports = packet.ports;
  return ports !== undefined && publicPortsOf(config, packet)?.has(ports.source) === true;
}
