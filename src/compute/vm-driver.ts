// The hypervisor contract: what cloud/ (the instance manager) may rely on, whichever driver runs the VMs.
// Modelled on nova's virt driver: one verb per lifecycle step, each saying what holds after success and after
// failure, capabilities declared up front, and one conformance suite (vm-driver.conformance.ts) for every driver.

/** A disk served over NBD: a unix socket (the daemon's nbd.sock) or TCP. */
export type NbdEndpoint =
  | { readonly socketPath: string; readonly exportName: string }
  | { readonly host: string; readonly port: number; readonly exportName: string };

/** A disk the caller describes: an NBD export (a volume or snapshot) or a local file (instance store). */
export type DiskSpec =
  | {
      /** The volume id (vol-…); the guest reads guestSerial(id), the id without its dash, in /sys/block/vdX/serial. */
      readonly serial: string;
      readonly nbd: NbdEndpoint;
      readonly readOnly?: boolean;
      /** 0 for the root device; omitted for data disks. */
      readonly bootIndex?: number;
    }
  | {
      readonly serial: string;
      /** A file owned by the instance (instance-store scratch disk or root overlay); it must exist. */
      readonly file: string;
      /** 'raw' (default) or 'qcow2' (an instance-store root: a copy-on-write overlay on an image file). */
      readonly format?: 'raw' | 'qcow2';
      readonly readOnly?: boolean;
      readonly bootIndex?: number;
    };

/** One public port forward: `hostIp:port` on the host reaches the same port of the guest's private IP. */
export interface PortForward {
  readonly protocol: 'tcp' | 'udp';
  /** The instance's public address, a loopback address such as 127.100.0.7 (docs/networking.md). */
  readonly hostIp: string;
  readonly port: number;
}

/**
 * The instance's network interface on its VPC switch (docs/networking.md). QEMU listens on the two unix
 * sockets and the daemon's switch connects to them, after spawn and again after a daemon restart.
 */
export interface VmNic {
  /** Lower-case `02:xx:xx:xx:xx:xx`. */
  readonly mac: string;
  /** The subnet's CIDR block (`172.31.16.0/20`): the guest's DHCP network. */
  readonly subnetCidr: string;
  /** The address DHCP hands the guest. */
  readonly privateIp: string;
  /** The DHCP host name (the private DNS name's first label). */
  readonly hostname: string;
  readonly nicSocketPath: string;
  readonly uplinkSocketPath: string;
  /** Run once per guest connection to 169.254.169.254:80; its stdin and stdout are the connection. */
  readonly metadataCommand: string;
  /** The public forwards at start; setHostForwards changes them later. */
  readonly hostForwards: readonly PortForward[];
}

/** Firmware the VM boots with; `uefi` only where the driver's capabilities say so. */
export type BootMode = 'bios' | 'uefi';

/** Everything a driver needs to run one VM. Frozen by the driver on entry. */
export interface VmSpec {
  /** The EC2 instance id (i-…); also names the VM's state directory. */
  readonly instanceId: string;
  readonly vcpus: number;
  readonly memoryMiB: number;
  /** Root device first, with bootIndex 0; then data disks in attach order. */
  readonly disks: readonly DiskSpec[];
  /** The NIC; omitted for a VM without a network. */
  readonly nic?: VmNic;
  /** The EC2 instance type, which the guest reads as its SMBIOS product name (cloud-init's EC2 check). */
  readonly instanceType?: string;
  /**
   * Raw user data for a VM without a NIC (fake driver, driver tests): QEMU hands it over fw_cfg
   * `opt/strata/user-data`. A guest with a NIC reads its user data from the metadata service instead.
   */
  readonly userData?: Uint8Array;
  /** Defaults to 'bios'. */
  readonly bootMode?: BootMode;
}

/** What a driver can do; callers check these instead of catching 'unsupported'. */
export interface DriverCapabilities {
  /** attachVolume/detachVolume work on a running VM. */
  readonly hotPlug: boolean;
  /** reboot('soft') asks the guest (Ctrl-Alt-Del) and falls back to hard; reboot('hard') resets. */
  readonly reboot: boolean;
  /** consoleOutput returns the serial console. */
  readonly console: boolean;
  /** VMs run with hardware acceleration (KVM); false means TCG emulation, several times slower. */
  readonly kvm: boolean;
  /** bootMode 'uefi' is available (OVMF installed). */
  readonly uefi: boolean;
  /** A new driver on the same state dir re-adopts VMs a previous daemon left running. */
  readonly adopt: boolean;
  /** pause/resume freeze and thaw a running VM (crash-consistent snapshots of all its volumes). */
  readonly pause: boolean;
  /** `nic` is honoured (QEMU listens on its sockets) and setHostForwards changes a running VM's forwards. */
  readonly network: boolean;
}

/** Why a VM stopped: the guest powered off, the host asked (powerOff/destroy), or it died unasked. */
export type StopReason = 'guest' | 'host' | 'crashed';

/** What a driver reports to its owner. State follows the VM: these come from the hypervisor, never a timer. */
export type VmEvent =
  | {
      readonly kind: 'stopped';
      readonly instanceId: string;
      readonly reason: StopReason;
      readonly detail: string;
    }
  | { readonly kind: 'rebooted'; readonly instanceId: string; readonly initiator: 'guest' | 'host' };

/** A VM the driver runs now (after spawn, or found again by adopt). */
export interface VmInfo {
  readonly instanceId: string;
  /** The hypervisor process id, or null for in-process drivers. */
  readonly pid: number | null;
  /** Serials of the attached disks, root first. */
  readonly diskSerials: readonly string[];
}

/** Reboot flavour: soft asks the guest to restart cleanly; hard resets the virtual hardware. */
export type RebootKind = 'soft' | 'hard';

/** Typed error codes for operating errors of a driver (bugs assert instead). */
export type VmDriverErrorCode =
  | 'not-found' // no running VM with that instance id
  | 'exists' // spawn of an instance id that is running
  | 'spawn-failed' // the hypervisor refused or died while starting (bad disk, bad option)
  | 'disk-exists' // attach of a serial already attached
  | 'disk-not-found' // detach of a serial not attached
  | 'timeout' // the guest did not cooperate in time (detach); the request stays pending
  | 'unsupported' // a capability this driver lacks
  | 'hypervisor'; // the hypervisor answered an error

/** The one error class of drivers; `code` says which operating error it is. */
export class VmDriverError extends Error {
  override readonly name = 'VmDriverError';
  constructor(
    readonly code: VmDriverErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Options of a graceful power off. */
export interface PowerOffOptions {
  /** How long the guest gets to power off after the ACPI power button; then the VM is stopped hard. 0 = hard now. */
  readonly timeoutMs?: number;
}

/**
 * A hypervisor driver. Every method may be called concurrently for different instances; calls for one
 * instance are serialised by the caller (the instance manager keeps a queue per instance).
 */
export interface VmDriver {
  /** Driver name, as on `--hypervisor` ("qemu", "fake"). */
  readonly name: string;
  /** Resolved once before use (the KVM probe runs here); stable for the driver's life. */
  capabilities(): Promise<DriverCapabilities>;
  /**
   * Starts a VM and returns once it runs (not once the guest has booted).
   * After success: the VM runs, `list()` shows it, and exactly one 'stopped' event will follow when it stops.
   * After failure (VmDriverError 'spawn-failed' or 'exists'): no process, socket or state directory of the
   * attempt remains; a spawn of the same id may be retried.
   */
  spawn(spec: VmSpec): Promise<VmInfo>;
  /**
   * Stops the VM at once and removes everything the driver keeps for it (state dir, console log).
   * After success: nothing of the instance remains. Destroying a missing instance succeeds.
   */
  destroy(instanceId: string): Promise<void>;
  /**
   * Presses the ACPI power button, waits up to `timeoutMs` for the guest to power off, then stops it hard.
   * After success: the VM is stopped, a 'stopped' event (reason 'host', or 'guest' if the guest got there
   * first) was emitted, and the console log stays readable until destroy. A missing instance: 'not-found'.
   */
  powerOff(instanceId: string, options?: PowerOffOptions): Promise<void>;
  /**
   * Restarts the guest without stopping the VM; disks stay attached. 'soft' falls back to 'hard' when the
   * guest ignores it. After success a 'rebooted' event was emitted. A missing instance: 'not-found'.
   */
  reboot(instanceId: string, kind: RebootKind): Promise<void>;
  /**
   * Hot-plugs a disk (no bootIndex). After success the guest sees it with its serial. After failure the disk
   * is not attached and nothing of it remains in the hypervisor.
   */
  attachVolume(instanceId: string, disk: DiskSpec): Promise<void>;
  /**
   * Hot-unplugs the disk with `serial` and closes its NBD connection. After success the guest no longer sees
   * it and the export is free. On 'timeout' the guest has not released it yet: the unplug stays pending and
   * completes when the guest lets go (or the VM stops); the volume must not be given to anyone else before.
   */
  detachVolume(instanceId: string, serial: string): Promise<void>;
  /**
   * Freezes the guest's CPUs; returns once every disk write the guest issued before has reached its disk
   * (QEMU drains and flushes its block layer on `stop`). While paused the guest runs nothing, so a snapshot
   * of each of its volumes taken now is one point in time. Pausing a paused VM succeeds. A missing
   * instance: 'not-found'; a driver without the `pause` capability: 'unsupported'.
   */
  pause(instanceId: string): Promise<void>;
  /** Thaws a paused VM; resuming a running one succeeds. A missing instance: 'not-found'. */
  resume(instanceId: string): Promise<void>;
  /**
   * Replaces the public forwards of a running VM (security group or address change), without a restart.
   * After success: exactly `forwards` are open; a port no longer listed refuses new connections. After
   * failure ('hypervisor'), the previous set may be partly applied; calling again converges. A missing
   * instance: 'not-found'; a driver without the `network` capability: 'unsupported'.
   */
  setHostForwards(instanceId: string, forwards: readonly PortForward[]): Promise<void>;
  /**
   * The tail (at most limits.consoleBytesMax) of the serial console of a running or stopped (not destroyed)
   * instance; '' when the guest has not printed yet. An instance never spawned or destroyed: 'not-found'.
   */
  consoleOutput(instanceId: string): Promise<string>;
  /**
   * After a daemon restart: takes back the VMs a previous driver on the same state dir left running (they keep
   * running and are in `list()` afterwards) and returns them. State dirs of VMs that died meanwhile stay
   * until destroy; their ids are in `stoppedIds`. Safe to call more than once.
   */
  adopt(): Promise<{ readonly running: VmInfo[]; readonly stoppedIds: string[] }>;
  /** The VMs running now, including adopted ones. */
  list(): Promise<VmInfo[]>;
  /** Subscribes to events; returns the unsubscribe function. */
  onEvent(listener: (event: VmEvent) => void): () => void;
  /** Releases the driver's own resources (sockets, watchers) without stopping any VM. */
  close(): Promise<void>;
}

/**
 * The SMBIOS system UUID (and serial) of an instance: stable per instance id and starting with `ec2`, which
 * is what cloud-init's ds-identify and DataSourceEc2 look for (with the manufacturer "Amazon EC2").
 */
export function ec2SystemUuid(instanceId: string): string {
  const hex = instanceId
    .replace(/[^0-9a-f]/g, '')
    .padStart(29, '0')
    .slice(-29);
  const digits = `ec2${hex}`;
  return `${digits.slice(0, 8)}-${digits.slice(8, 12)}-${digits.slice(12, 16)}-${digits.slice(16, 20)}-${digits.slice(20)}`;
}

/**
 * The serial the guest sees for a volume: the id without its dash (`vol-0ab…` → `vol0ab…`), as EC2's Nitro
 * NVMe devices show it; virtio-blk serials hold 20 bytes, exactly `vol` and 17 hex digits.
 */
export function guestSerial(volumeId: string): string {
  return volumeId.replace('-', '').slice(0, 20);
}
