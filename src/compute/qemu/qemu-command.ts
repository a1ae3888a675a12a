// The QEMU command line and the QMP objects for disks: pure functions, so the exact invocation is testable
// without QEMU and the same disk objects serve `-blockdev`/`-device` at spawn and blockdev-add/device_add later.
import { join } from 'node:path';
import { assert } from '../../base/assert.ts';
import { limits } from '../../base/limits.ts';
import {
  ec2SystemUuid,
  guestSerial,
  type DiskSpec,
  type PortForward,
  type VmNic,
  type VmSpec,
} from '../vm-driver.ts';
import { USER_DATA_FW_CFG_NAME } from '../image/guest-files.ts';
import { parseIpv4, type Ipv4 } from '../../network/frames.ts';
import {
  hostForwardKey,
  hostForwardRule,
  netdevArgs,
  SLIRP_NETDEV_ID as SLIRP_ID,
  type HostForward,
} from '../../network/qemu-netdev.ts';
import { parseCidr } from '../../network/security-filter.ts';

/** Hardware acceleration QEMU runs with. */
export type Accelerator = 'tcg' | 'kvm';

/** Files of one VM inside its state dir `<data-dir>/instances/<id>/`. */
export interface VmPaths {
  readonly dir: string;
  readonly qmpSocket: string;
  readonly consoleSocket: string;
  readonly consoleLog: string;
  readonly pidFile: string;
  readonly stateFile: string;
  readonly userData: string;
  readonly qemuLog: string;
  readonly uefiVars: string;
}

/** Unix socket paths are limited to 107 bytes by sockaddr_un. */
export const UNIX_SOCKET_PATH_BYTES_MAX = 107;

/** The files of the VM whose state dir is `dir`. */
export function vmPaths(dir: string): VmPaths {
  return {
    dir,
    qmpSocket: join(dir, 'qmp.sock'),
    consoleSocket: join(dir, 'console.sock'),
    consoleLog: join(dir, 'console.log'),
    pidFile: join(dir, 'qemu.pid'),
    stateFile: join(dir, 'vm.json'),
    userData: join(dir, 'user-data'),
    qemuLog: join(dir, 'qemu.log'),
    uefiVars: join(dir, 'uefi-vars.fd'),
  };
}

/** QEMU's name for the VM; also how adopt recognises our process in /proc/PID/cmdline. */
export function qemuVmName(instanceId: string): string {
  return `strata-${instanceId}`;
}

/** Node and device ids of a disk inside QEMU, derived from its serial (volume id). */
export function diskIds(serial: string): { node: string; device: string } {
  assert(
    /^[A-Za-z][A-Za-z0-9-]{0,63}$/.test(serial),
    `disk serial must be an id such as vol-…: got ${JSON.stringify(serial)}`,
  );
  return { node: `node-${serial}`, device: `disk-${serial}` };
}

/** The blockdev-add / -blockdev object of a disk: NBD (unix or TCP) or a local raw or qcow2 file. */
export function blockdevOptions(disk: DiskSpec): Record<string, unknown> {
  const { node } = diskIds(disk.serial);
  const readOnly = disk.readOnly === true;
  if ('file' in disk) {
    return {
      // qcow2 opens its backing file (the image under <data-dir>/images/) read-only by itself.
      driver: disk.format ?? 'raw',
      'node-name': node,
      'read-only': readOnly,
      file: { driver: 'file', filename: disk.file },
    };
  }
  const server =
    'socketPath' in disk.nbd
      ? { type: 'unix', path: disk.nbd.socketPath }
      : { type: 'inet', host: disk.nbd.host, port: String(disk.nbd.port) };
  return {
    driver: 'nbd',
    'node-name': node,
    'read-only': readOnly,
    server,
    export: disk.nbd.exportName,
    // A daemon restart drops the NBD connection; QEMU reconnects instead of failing the guest's I/O.
    'reconnect-delay': limits.nbdReconnectDelaySeconds,
  };
}

/** The device_add / -device object of a disk: virtio-blk with the volume id as serial. */
export function deviceOptions(disk: DiskSpec): Record<string, unknown> {
  const { node, device } = diskIds(disk.serial);
  const options: Record<string, unknown> = {
    driver: 'virtio-blk-pci',
    id: device,
    drive: node,
    serial: guestSerial(disk.serial),
  };
  if (disk.bootIndex !== undefined) options.bootindex = disk.bootIndex;
  return options;
}

/** Everything buildQemuArgs needs besides the spec. */
export interface QemuLaunch {
  readonly accelerator: Accelerator;
  readonly paths: VmPaths;
  /** OVMF code image, when bootMode is 'uefi'. */
  readonly uefiCode?: string;
}

/** The full argument list of qemu-system-x86_64 for `spec`. The VM starts paused (-S) until QMP `cont`. */
export function buildQemuArgs(spec: VmSpec, launch: QemuLaunch): string[] {
  const { paths, accelerator } = launch;
  for (const socket of [paths.qmpSocket, paths.consoleSocket]) {
    assert(
      Buffer.byteLength(socket) <= UNIX_SOCKET_PATH_BYTES_MAX,
      `socket path too long for a unix socket: ${socket}`,
    );
  }
  const args = [
    ['-name', `${qemuVmName(spec.instanceId)},process=${qemuVmName(spec.instanceId)}`],
    ['-nodefaults', '-no-user-config', '-display', 'none', '-S'],
    ['-machine', 'pc', '-accel', accelerator, ...(accelerator === 'kvm' ? ['-cpu', 'host'] : [])],
    ['-smp', String(spec.vcpus), '-m', `${spec.memoryMiB}M`],
    ['-pidfile', paths.pidFile],
    ['-qmp', `unix:${paths.qmpSocket},server=on,wait=off`],
    [
      '-chardev',
      `socket,id=console,path=${paths.consoleSocket},server=on,wait=off`,
      '-serial',
      'chardev:console',
    ],
    ['-boot', 'strict=on'],
  ].flat();
  for (const disk of spec.disks) {
    args.push(
      '-blockdev',
      JSON.stringify(blockdevOptions(disk)),
      '-device',
      JSON.stringify(deviceOptions(disk)),
    );
  }
  args.push('-smbios', smbiosSystem(spec));
  // A guest with a NIC reads its user data from the metadata service; fw_cfg is for VMs without one.
  if (spec.nic !== undefined) args.push(...netdevArgs(netdevSpec(spec.nic)));
  else if (spec.userData !== undefined)
    args.push('-fw_cfg', `name=${USER_DATA_FW_CFG_NAME},file=${paths.userData}`);
  if (spec.bootMode === 'uefi') {
    assert(launch.uefiCode !== undefined, 'uefi boot needs OVMF code');
    args.push('-drive', `if=pflash,format=raw,readonly=on,file=${launch.uefiCode}`);
    args.push('-drive', `if=pflash,format=raw,file=${paths.uefiVars}`);
  }
  return args;
}

/** SMBIOS type 1 as EC2 sets it: cloud-init's ds-identify and DataSourceEc2 recognise EC2 by these fields. */
export function smbiosSystem(spec: VmSpec): string {
  const uuid = ec2SystemUuid(spec.instanceId);
  const product = (spec.instanceType ?? 'strata').replaceAll(',', ',,');
  return `type=1,manufacturer=Amazon EC2,product=${product},uuid=${uuid},serial=${uuid}`;
}

function ipv4(text: string): Ipv4 {
  const address = parseIpv4(text);
  assert(address !== undefined, `not an IPv4 address: ${text}`);
  return address;
}

/** qemu-netdev's forward (numeric address) of a driver forward. */
export function netdevForward(forward: PortForward): HostForward {
  return { protocol: forward.protocol, publicIp: ipv4(forward.hostIp), port: forward.port };
}

/** The HMP commands that change a running VM's forwards from `current` to `wanted` (removals first). */
export function hostForwardCommands(
  current: readonly PortForward[],
  wanted: readonly PortForward[],
  privateIp: string,
): string[] {
  const key = (forward: PortForward): string => hostForwardKey(netdevForward(forward));
  const wantedKeys = new Set(wanted.map(key));
  const currentKeys = new Set(current.map(key));
  return [
    ...current.filter((f) => !wantedKeys.has(key(f))).map((f) => `hostfwd_remove ${SLIRP_ID} ${key(f)}`),
    ...wanted
      .filter((f) => !currentKeys.has(key(f)))
      .map((f) => `hostfwd_add ${SLIRP_ID} ${hostForwardRule(netdevForward(f), ipv4(privateIp))}`),
  ];
}

function netdevSpec(nic: VmNic): Parameters<typeof netdevArgs>[0] {
  const subnet = parseCidr(nic.subnetCidr, parseIpv4);
  assert(subnet !== undefined, `not a CIDR block: ${nic.subnetCidr}`);
  return {
    mac: nic.mac,
    subnet,
    privateIp: ipv4(nic.privateIp),
    nicSocketPath: nic.nicSocketPath,
    uplinkSocketPath: nic.uplinkSocketPath,
    metadataCommand: nic.metadataCommand,
    hostForwards: nic.hostForwards.map(netdevForward),
    hostname: nic.hostname,
  };
}
