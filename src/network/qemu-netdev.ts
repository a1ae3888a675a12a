// The QEMU arguments that put one instance NIC on its VPC switch: the NIC on one stream socket, and the
// instance's own libslirp (router, DHCP, metadata relay, public forwards) behind a hub on the other. QEMU
// listens on both sockets and the daemon connects: QEMU 7.2's stream netdev has no `reconnect=` as a
// client, but as a server it accepts the next connection when one closes, so a restarted daemon simply
// connects again (switch-sockets.ts).
import { assert } from '../base/assert.ts';
import { formatIpv4, type Ipv4 } from './frames.ts';
import { cidrContains, type Cidr } from './security-filter.ts';
import { reservedAddresses } from './vpc-switch.ts';

/** One public port forward: the instance's public (loopback) address and port to the guest's port. */
export interface HostForward {
  readonly protocol: 'tcp' | 'udp';
  readonly publicIp: Ipv4;
  readonly port: number;
}

/** What QEMU needs to know to join the switch. */
export interface NetdevSpec {
  readonly mac: string;
  readonly subnet: Cidr;
  readonly privateIp: Ipv4;
  /** Unix sockets QEMU listens on for this instance; the daemon connects (switch-sockets.ts). */
  readonly nicSocketPath: string;
  readonly uplinkSocketPath: string;
  /** Run once per guest connection to the metadata relay; its stdin and stdout are the connection. */
  readonly metadataCommand: string;
  readonly hostForwards: readonly HostForward[];
  readonly hostname?: string;
}

/** QEMU's id of the instance's libslirp netdev, which `hostfwd_add`/`hostfwd_remove` name. */
export const SLIRP_NETDEV_ID = 'uplink0';

/** The `hostfwd` rule text of one forward, as `-netdev user` and `hostfwd_add` take it. */
export function hostForwardRule(forward: HostForward, privateIp: Ipv4): string {
  return `${hostForwardKey(forward)}-${formatIpv4(privateIp)}:${forward.port}`;
}

/** `hostfwd_remove`'s name of a forward: `tcp:127.100.0.7:22`. */
export function hostForwardKey(forward: HostForward): string {
  return `${forward.protocol}:${formatIpv4(forward.publicIp)}:${forward.port}`;
}

/** `-netdev`/`-device` arguments for the NIC; QEMU listens on both sockets from start. */
export function netdevArgs(spec: NetdevSpec): string[] {
  assert(cidrContains(spec.subnet, spec.privateIp), 'netdevArgs: private IP outside the subnet');
  for (const text of [spec.metadataCommand, spec.nicSocketPath, spec.uplinkSocketPath])
    assert(!text.includes(','), `netdevArgs: QEMU options cannot hold a comma: ${text}`);
  const reserved = reservedAddresses(spec.subnet);
  const slirp = [
    `user,id=${SLIRP_NETDEV_ID}`,
    `net=${formatIpv4(spec.subnet.network)}/${spec.subnet.prefixLength}`,
    `host=${formatIpv4(reserved.router)}`,
    `dns=${formatIpv4(reserved.dns)}`,
    `dhcpstart=${formatIpv4(spec.privateIp)}`,
    'ipv6=off',
    ...(spec.hostname === undefined ? [] : [`hostname=${spec.hostname}`]),
    `guestfwd=tcp:${formatIpv4(reserved.metadataRelay)}:80-cmd:${spec.metadataCommand}`,
    ...spec.hostForwards.map((forward) => `hostfwd=${hostForwardRule(forward, spec.privateIp)}`),
  ].join(',');
  const stream = (id: string, path: string) => `stream,id=${id},server=on,addr.type=unix,addr.path=${path}`;
  return [
    '-netdev',
    slirp,
    '-netdev',
    stream('uplink0s', spec.uplinkSocketPath),
    '-netdev',
    `hubport,id=uplink0h,hubid=0,netdev=${SLIRP_NETDEV_ID}`,
    '-netdev',
    'hubport,id=uplink0hs,hubid=0,netdev=uplink0s',
    '-netdev',
    stream('nic0', spec.nicSocketPath),
    '-device',
    `virtio-net-pci,netdev=nic0,mac=${spec.mac},romfile=`,
  ];
}
