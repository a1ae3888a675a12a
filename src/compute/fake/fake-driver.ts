// The fake driver: VMs in process, for the tests of everything above compute/. Instant, but event-driven like
// QEMU: stopping emits 'stopped', rebooting emits 'rebooted'. Its "guest" behaves like the demo image: it prints
// the boot marker with a per-root-disk boot counter, the disk list on every change, and runs user data lines
// `poweroff` and `reboot`. A NIC is honoured as far as the host sees it: the fake listens on the NIC's two
// sockets (frames sent there are dropped) and records the public forwards.
import { rm, stat } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { assert } from '../../base/assert.ts';
import { limits } from '../../base/limits.ts';
import { BOOT_MARKER, DISKS_MARKER } from '../image/guest-files.ts';
import {
  VmDriverError,
  type DiskSpec,
  type DriverCapabilities,
  type PortForward,
  type PowerOffOptions,
  type RebootKind,
  type StopReason,
  type VmDriver,
  type VmEvent,
  type VmInfo,
  type VmSpec,
} from '../vm-driver.ts';

interface FakeVm {
  readonly spec: VmSpec;
  readonly disks: Map<string, DiskSpec>;
  running: boolean;
  /** While paused the "guest" runs nothing: what it would print waits in `held` until resume. */
  paused: boolean;
  held: string[];
  owner: FakeDriver;
  /** The public forwards now (spawn's, then setHostForwards'). */
  forwards: readonly PortForward[];
  /** Listeners on the NIC's sockets while the VM runs. */
  nicSockets: { server: Server; connections: Set<Socket> }[];
}

/** The "machine" fake VMs run on; two fake drivers on one host model a daemon restart (adopt). */
export class FakeHost {
  /** Running and stopped (not destroyed) VMs by instance id. */
  readonly vms = new Map<string, FakeVm>();
  /** Console text by instance id, bounded like the real one. */
  readonly consoles = new Map<string, string>();
  /** Boot counters by root disk, as the demo image keeps them on its root volume. */
  readonly bootCounts = new Map<string, number>();
}

/** Options of the fake driver. */
export interface FakeDriverOptions {
  readonly host?: FakeHost;
}

/** Creates a fake driver, on its own host unless one is shared. */
export function createFakeDriver(options: FakeDriverOptions = {}): VmDriver {
  return new FakeDriver(options.host ?? new FakeHost());
}

function rootKey(disk: DiskSpec): string {
  return 'file' in disk ? `file:${disk.file}` : `nbd:${JSON.stringify(disk.nbd)}`;
}

async function checkReachable(disk: DiskSpec): Promise<void> {
  const path = 'file' in disk ? disk.file : 'socketPath' in disk.nbd ? disk.nbd.socketPath : null;
  if (path === null) return;
  const found = await stat(path).catch(() => null);
  const ok = found !== null && ('file' in disk ? found.isFile() : found.isSocket());
  if (!ok) throw new VmDriverError('spawn-failed', `disk ${disk.serial}: ${path} is not reachable`);
}

class FakeDriver implements VmDriver {
  readonly name = 'fake';
  readonly #host: FakeHost;
  readonly #listeners = new Set<(event: VmEvent) => void>();

  constructor(host: FakeHost) {
    this.#host = host;
  }

  async capabilities(): Promise<DriverCapabilities> {
    return {
      hotPlug: true,
      reboot: true,
      console: true,
      kvm: false,
      uefi: false,
      adopt: true,
      pause: true,
      network: true,
    };
  }

  #running(instanceId: string): FakeVm {
    const vm = this.#host.vms.get(instanceId);
    if (vm === undefined || !vm.running)
      throw new VmDriverError('not-found', `no running VM for instance ${instanceId}`);
    return vm;
  }

  async spawn(spec: VmSpec): Promise<VmInfo> {
    assert(
      spec.disks.length >= 1 && spec.disks[0]?.bootIndex === 0,
      'the root disk comes first, with bootIndex 0',
    );
    if (this.#host.vms.get(spec.instanceId)?.running === true) {
      throw new VmDriverError('exists', `instance ${spec.instanceId} already runs`);
    }
    if (spec.bootMode === 'uefi') throw new VmDriverError('unsupported', 'the fake driver has no UEFI');
    for (const disk of spec.disks) await checkReachable(disk);
    const frozen = Object.freeze({ ...spec, disks: [...spec.disks] });
    const vm: FakeVm = {
      spec: frozen,
      disks: new Map(spec.disks.map((d) => [d.serial, d])),
      running: true,
      paused: false,
      held: [],
      owner: this,
      forwards: spec.nic?.hostForwards ?? [],
      nicSockets: [],
    };
    if (spec.nic !== undefined) {
      for (const path of [spec.nic.nicSocketPath, spec.nic.uplinkSocketPath])
        vm.nicSockets.push(await listenNicSocket(path));
    }
    this.#host.vms.set(spec.instanceId, vm);
    setImmediate(() => this.#boot(vm));
    return this.#info(vm);
  }

  #boot(vm: FakeVm): void {
    if (!vm.running) return;
    const key = rootKey(vm.spec.disks[0]!);
    const count = (this.#host.bootCounts.get(key) ?? 0) + 1;
    this.#host.bootCounts.set(key, count);
    this.#print(vm, `${BOOT_MARKER} count=${count}`);
    this.#printDisks(vm);
    const script = vm.spec.userData === undefined ? '' : Buffer.from(vm.spec.userData).toString('utf8');
    if (!script.startsWith('#!')) return;
    const lines = script.split('\n').map((line) => line.trim());
    if (lines.includes('poweroff')) setImmediate(() => vm.running && this.#stop(vm, 'guest'));
    else if (lines.includes('reboot')) setImmediate(() => vm.running && this.#reset(vm, 'guest'));
  }

  #print(vm: FakeVm, line: string): void {
    if (vm.paused) {
      vm.held.push(line);
      return;
    }
    const id = vm.spec.instanceId;
    const text = `${this.#host.consoles.get(id) ?? ''}${line}\r\n`;
    this.#host.consoles.set(id, text.slice(-limits.consoleBytesMax));
  }

  #printDisks(vm: FakeVm): void {
    const names = [...vm.disks.keys()].map(
      (serial, index) => ` vd${String.fromCharCode(97 + index)}=${serial}`,
    );
    this.#print(vm, `${DISKS_MARKER}${names.join('') || ' none'}`);
  }

  #stop(vm: FakeVm, reason: StopReason): void {
    assert(vm.running, 'stopping a stopped fake vm');
    vm.running = false;
    vm.paused = false;
    vm.held = [];
    for (const { server, connections } of vm.nicSockets.splice(0)) {
      for (const connection of connections) connection.destroy();
      server.close();
    }
    vm.owner.#emit({ kind: 'stopped', instanceId: vm.spec.instanceId, reason, detail: `${reason} shutdown` });
  }

  #reset(vm: FakeVm, initiator: 'guest' | 'host'): void {
    vm.owner.#emit({ kind: 'rebooted', instanceId: vm.spec.instanceId, initiator });
    this.#boot(vm);
  }

  #emit(event: VmEvent): void {
    for (const listener of [...this.#listeners]) listener(event);
  }

  #info(vm: FakeVm): VmInfo {
    return { instanceId: vm.spec.instanceId, pid: null, diskSerials: [...vm.disks.keys()] };
  }

  async destroy(instanceId: string): Promise<void> {
    const vm = this.#host.vms.get(instanceId);
    if (vm?.running === true) this.#stop(vm, 'host');
    this.#host.vms.delete(instanceId);
    this.#host.consoles.delete(instanceId);
  }

  async powerOff(instanceId: string, _options: PowerOffOptions = {}): Promise<void> {
    const vm = this.#running(instanceId);
    this.#print(vm, 'STRATA-DEMO: power button');
    this.#stop(vm, 'host');
  }

  async reboot(instanceId: string, _kind: RebootKind): Promise<void> {
    this.#reset(this.#running(instanceId), 'host');
  }

  async attachVolume(instanceId: string, disk: DiskSpec): Promise<void> {
    const vm = this.#running(instanceId);
    if (vm.disks.has(disk.serial))
      throw new VmDriverError('disk-exists', `${disk.serial} is already attached to ${instanceId}`);
    try {
      await checkReachable(disk);
    } catch (error) {
      throw new VmDriverError('hypervisor', `attach ${disk.serial}: ${(error as Error).message}`);
    }
    vm.disks.set(disk.serial, { ...disk, bootIndex: undefined });
    this.#printDisks(vm);
  }

  async detachVolume(instanceId: string, serial: string): Promise<void> {
    const vm = this.#running(instanceId);
    if (!vm.disks.delete(serial))
      throw new VmDriverError('disk-not-found', `${serial} is not attached to ${instanceId}`);
    this.#printDisks(vm);
  }

  async pause(instanceId: string): Promise<void> {
    this.#running(instanceId).paused = true;
  }

  async resume(instanceId: string): Promise<void> {
    const vm = this.#running(instanceId);
    vm.paused = false;
    const held = vm.held;
    vm.held = [];
    for (const line of held) this.#print(vm, line);
  }

  async setHostForwards(instanceId: string, forwards: readonly PortForward[]): Promise<void> {
    const vm = this.#running(instanceId);
    if (vm.spec.nic === undefined) throw new VmDriverError('unsupported', `${instanceId} has no NIC`);
    vm.forwards = [...forwards];
  }

  async consoleOutput(instanceId: string): Promise<string> {
    if (!this.#host.vms.has(instanceId))
      throw new VmDriverError('not-found', `no console for instance ${instanceId}`);
    return this.#host.consoles.get(instanceId) ?? '';
  }

  async adopt(): Promise<{ running: VmInfo[]; stoppedIds: string[] }> {
    const stoppedIds: string[] = [];
    for (const vm of this.#host.vms.values()) {
      if (vm.running) vm.owner = this;
      else stoppedIds.push(vm.spec.instanceId);
    }
    return { running: await this.list(), stoppedIds };
  }

  async list(): Promise<VmInfo[]> {
    return [...this.#host.vms.values()]
      .filter((vm) => vm.running && vm.owner === this)
      .map((vm) => this.#info(vm));
  }

  onEvent(listener: (event: VmEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }
}

// What QEMU does for a NIC socket, as far as the daemon sees: it listens, and takes the next connection.
// A QEMU is a process of its own, so the fake's sockets never keep the daemon's process alive (unref).
async function listenNicSocket(path: string): Promise<{ server: Server; connections: Set<Socket> }> {
  await rm(path, { force: true });
  const connections = new Set<Socket>();
  const server = createServer((socket) => {
    connections.add(socket);
    socket.unref();
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => connections.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  server.unref();
  return { server, connections };
}
