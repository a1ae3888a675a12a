// The real driver: one qemu-system-x86_64 per VM, disks over NBD, controlled through QMP on a unix socket.
// Restart behaviour: QEMU runs detached in its own session and survives the daemon; a new driver on the same
// state dir finds it by its pid file, checks /proc/PID/cmdline, and re-adopts it (QMP and console reconnect).
// A VM is never left unnoticed: adopt() is called at daemon start, and the caller destroys what it does not know.
import { spawn as spawnProcess } from 'node:child_process';
import { copyFile, mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assert } from '../../base/assert.ts';
import { limits } from '../../base/limits.ts';
import { silentLogger, type Logger } from '../../base/log.ts';
import { Semaphore } from '../../base/semaphore.ts';
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
import { cachedProbe } from './kvm-probe.ts';
import { findOvmf } from './ovmf.ts';
import { ConsoleLog, readConsoleTail } from './console-log.ts';
import { QmpClient, QmpError } from './qmp-client.ts';
import {
  blockdevOptions,
  buildQemuArgs,
  deviceOptions,
  diskIds,
  hostForwardCommands,
  qemuVmName,
  vmPaths,
  type Accelerator,
  type VmPaths,
} from './qemu-command.ts';
import { isProcessAlive, processCommandLine, sleep, waitForProcessExit } from './process.ts';

/** How the qemu driver is set up; frozen on entry. */
export interface QemuDriverOptions {
  /** The data dir; each VM lives in `<stateDir>/instances/<instance id>/`. */
  readonly stateDir: string;
  /** 'auto' (default) uses KVM only when the probe boots the host kernel with it; else TCG. */
  readonly accelerator?: Accelerator | 'auto';
  readonly qemuBinary?: string;
  readonly logger?: Logger;
}

/** What vm.json keeps so a later daemon can re-adopt the VM. */
interface VmState {
  readonly instanceId: string;
  readonly disks: DiskSpec[];
  /** The NIC's private IP and its public forwards now (setHostForwards); absent for a VM without a NIC. */
  readonly network?: { readonly privateIp: string; readonly forwards: PortForward[] };
}

interface RunningVm {
  readonly instanceId: string;
  readonly paths: VmPaths;
  readonly pid: number;
  readonly qmp: QmpClient;
  readonly console: ConsoleLog | null;
  readonly disks: Map<string, DiskSpec>;
  network: VmState['network'];
  /** Set when powerOff/destroy asked the VM to stop: its SHUTDOWN is then ours, not the guest's. */
  hostStop: boolean;
  hostReboot: boolean;
  guestShutdown: boolean;
  exited: Promise<void>;
}

/** Creates the qemu driver. Call adopt() once at daemon start to take back VMs a previous run left. */
export function createQemuDriver(options: QemuDriverOptions): VmDriver {
  return new QemuDriver(Object.freeze({ ...options }));
}

class QemuDriver implements VmDriver {
  readonly name = 'qemu';
  readonly #options: QemuDriverOptions;
  readonly #log: Logger;
  readonly #qemu: string;
  readonly #vms = new Map<string, RunningVm>();
  readonly #starting = new Set<string>();
  readonly #listeners = new Set<(event: VmEvent) => void>();
  readonly #boots = new Semaphore(limits.qemuBootsConcurrentMax);
  #capabilities: Promise<DriverCapabilities & { accelerator: Accelerator }> | null = null;
  #closed = false;

  constructor(options: QemuDriverOptions) {
    this.#options = options;
    this.#log = (options.logger ?? silentLogger).child({ driver: 'qemu' });
    this.#qemu = options.qemuBinary ?? 'qemu-system-x86_64';
  }

  capabilities(): Promise<DriverCapabilities & { accelerator: Accelerator }> {
    this.#capabilities ??= this.#resolveCapabilities();
    return this.#capabilities;
  }

  async #resolveCapabilities(): Promise<DriverCapabilities & { accelerator: Accelerator }> {
    const wanted = this.#options.accelerator ?? 'auto';
    let accelerator: Accelerator = 'tcg';
    if (wanted !== 'tcg') {
      const probe = await cachedProbe('kvm');
      this.#log.info({ probe }, 'kvm probe');
      if (probe.usable) accelerator = 'kvm';
      else if (wanted === 'kvm')
        throw new VmDriverError('unsupported', `KVM was asked for but is unusable: ${probe.detail}`);
    }
    const uefi = (await findOvmf()) !== null;
    return {
      hotPlug: true,
      reboot: true,
      console: true,
      kvm: accelerator === 'kvm',
      uefi,
      adopt: true,
      pause: true,
      network: true,
      accelerator,
    };
  }

  #dir(instanceId: string): string {
    assert(
      /^[A-Za-z0-9-]{1,64}$/.test(instanceId),
      `instance id must be an id such as i-…: got ${JSON.stringify(instanceId)}`,
    );
    return join(this.#options.stateDir, 'instances', instanceId);
  }

  #running(instanceId: string): RunningVm {
    const vm = this.#vms.get(instanceId);
    if (vm === undefined) throw new VmDriverError('not-found', `no running VM for instance ${instanceId}`);
    return vm;
  }

  async spawn(spec: VmSpec): Promise<VmInfo> {
    validateSpec(spec);
    if (this.#vms.has(spec.instanceId) || this.#starting.has(spec.instanceId)) {
      throw new VmDriverError('exists', `instance ${spec.instanceId} already runs`);
    }
    const capabilities = await this.capabilities();
    if (spec.bootMode === 'uefi' && !capabilities.uefi) {
      throw new VmDriverError(
        'unsupported',
        'bootMode uefi needs OVMF, which is not installed (apt-get install ovmf)',
      );
    }
    this.#starting.add(spec.instanceId);
    const release = await this.#boots.acquire();
    let holdSlot = false;
    try {
      const vm = await this.#start(spec, capabilities.accelerator);
      holdSlot = true;
      return { instanceId: vm.instanceId, pid: vm.pid, diskSerials: [...vm.disks.keys()] };
    } finally {
      this.#starting.delete(spec.instanceId);
      // A started boot keeps its slot a while: the guest is still booting and takes a core under TCG.
      if (holdSlot) setTimeout(release, limits.qemuBootSlotHoldMs).unref();
      else release();
    }
  }

  async #start(spec: VmSpec, accelerator: Accelerator): Promise<RunningVm> {
    const paths = vmPaths(this.#dir(spec.instanceId));
    const dirExisted = await exists(paths.dir);
    await mkdir(paths.dir, { recursive: true, mode: 0o700 });
    await removeRuntimeFiles(paths);
    let pid: number | null = null;
    let qmp: QmpClient | null = null;
    try {
      if (spec.userData !== undefined) await writeFile(paths.userData, spec.userData, { mode: 0o600 });
      const ovmf = spec.bootMode === 'uefi' ? await findOvmf() : null;
      if (ovmf !== null) await copyFile(ovmf.varsTemplate, paths.uefiVars);
      const args = buildQemuArgs(spec, {
        accelerator,
        paths,
        ...(ovmf === null ? {} : { uefiCode: ovmf.code }),
      });
      this.#log.debug({ instanceId: spec.instanceId, args }, 'starting qemu');
      const started = await this.#launch(args, paths);
      pid = started.pid;
      qmp = started.qmp;
      const console = await ConsoleLog.connect(paths.consoleSocket, paths.consoleLog);
      const network =
        spec.nic === undefined
          ? undefined
          : { privateIp: spec.nic.privateIp, forwards: [...spec.nic.hostForwards] };
      const vm = this.#register(spec.instanceId, paths, pid, qmp, console, {
        disks: [...spec.disks],
        network,
      });
      await writeState(paths, vm);
      await qmp.execute('cont');
      return vm;
    } catch (error) {
      this.#vms.delete(spec.instanceId);
      if (qmp !== null) await qmp.close();
      if (pid !== null) await killHard(pid);
      if (dirExisted) await removeRuntimeFiles(paths);
      else await rm(paths.dir, { recursive: true, force: true });
      if (error instanceof VmDriverError) throw error;
      throw new VmDriverError('spawn-failed', `instance ${spec.instanceId}: ${(error as Error).message}`);
    }
  }

  /** Starts QEMU (paused) and connects QMP; on failure QEMU's own complaint becomes the error. */
  async #launch(args: string[], paths: VmPaths): Promise<{ pid: number; qmp: QmpClient }> {
    const log = await open(paths.qemuLog, 'w');
    let exitCode: number | string | null = null;
    let child;
    try {
      child = spawnProcess(this.#qemu, args, { detached: true, stdio: ['ignore', 'ignore', log.fd] });
    } finally {
      await log.close();
    }
    child.on('exit', (code, signal) => (exitCode = code ?? signal ?? 'unknown'));
    child.on('error', (error) => (exitCode = error.message));
    child.unref();
    const deadline = Date.now() + limits.qemuStartTimeoutMs;
    while (Date.now() < deadline) {
      if (exitCode !== null || child.pid === undefined) {
        const complaint = (await readFile(paths.qemuLog, 'utf8').catch(() => '')).trim();
        throw new Error(`qemu exited (${exitCode}) while starting: ${complaint || 'no message'}`);
      }
      if (await exists(paths.qmpSocket)) {
        try {
          return { pid: child.pid, qmp: await QmpClient.connect(paths.qmpSocket, limits.qemuStartTimeoutMs) };
        } catch {
          // QEMU creates the socket before it listens; try again
        }
      }
      await sleep(25);
    }
    if (child.pid !== undefined) await killHard(child.pid);
    throw new Error(`qemu did not answer on QMP within ${limits.qemuStartTimeoutMs} ms`);
  }

  #register(
    instanceId: string,
    paths: VmPaths,
    pid: number,
    qmp: QmpClient,
    console: ConsoleLog | null,
    state: Pick<VmState, 'disks' | 'network'>,
  ): RunningVm {
    const vm: RunningVm = {
      instanceId,
      paths,
      pid,
      qmp,
      console,
      disks: new Map(state.disks.map((disk) => [disk.serial, disk])),
      network: state.network,
      hostStop: false,
      hostReboot: false,
      guestShutdown: false,
      exited: Promise.resolve(),
    };
    qmp.onEvent((event) => {
      if (event.event === 'SHUTDOWN' && event.data.guest === true) vm.guestShutdown = true;
      if (event.event === 'RESET') {
        const initiator = event.data.guest === true && !vm.hostReboot ? 'guest' : 'host';
        vm.hostReboot = false;
        this.#emit({ kind: 'rebooted', instanceId, initiator });
      }
    });
    vm.exited = this.#watchExit(vm);
    this.#vms.set(instanceId, vm);
    return vm;
  }

  /** QMP closing is the first sign of QEMU exiting; then reap it, clean up and report exactly once. */
  async #watchExit(vm: RunningVm): Promise<void> {
    await vm.qmp.closed;
    if (this.#closed) return; // our side hung up (daemon stopping): the VM runs on, for the next adopt()
    if (this.#vms.get(vm.instanceId) !== vm) return; // a spawn that failed: it cleans up and reports nothing
    if (!(await waitForProcessExit(vm.pid, 5_000))) await killHard(vm.pid);
    vm.console?.close();
    if (this.#vms.get(vm.instanceId) === vm) this.#vms.delete(vm.instanceId);
    await removeRuntimeFiles(vm.paths);
    const reason: StopReason = vm.hostStop ? 'host' : vm.guestShutdown ? 'guest' : 'crashed';
    const detail = reason === 'crashed' ? 'qemu exited without a shutdown request' : `${reason} shutdown`;
    this.#log.info({ instanceId: vm.instanceId, reason }, 'vm stopped');
    this.#emit({ kind: 'stopped', instanceId: vm.instanceId, reason, detail });
  }

  #emit(event: VmEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.#log.error({ error, event }, 'vm event listener threw');
      }
    }
  }

  async destroy(instanceId: string): Promise<void> {
    const dir = this.#dir(instanceId);
    const vm = this.#vms.get(instanceId);
    if (vm !== undefined) {
      vm.hostStop = true;
      await vm.qmp.execute('quit').catch(() => undefined);
      if (!(await waitForProcessExit(vm.pid, 5_000))) await killHard(vm.pid);
      await vm.exited;
    } else {
      // A VM of a previous daemon that was never adopted must not outlive its instance either.
      const pid = await readPid(vmPaths(dir));
      if (pid !== null && (await isOurQemu(pid, instanceId))) await killHard(pid);
    }
    await rm(dir, { recursive: true, force: true });
  }

  async powerOff(instanceId: string, options: PowerOffOptions = {}): Promise<void> {
    const vm = this.#running(instanceId);
    const graceMs = options.timeoutMs ?? limits.powerOffGraceMs;
    vm.hostStop = !vm.guestShutdown;
    if (graceMs > 0) {
      // Pressed again now and then: a press before the guest's acpid runs (early boot) is lost.
      const press = (): Promise<unknown> => vm.qmp.execute('system_powerdown').catch(() => undefined);
      await press();
      const repeat = setInterval(() => void press(), limits.powerButtonRepeatMs);
      const settled = await settlesWithin(vm.exited, graceMs).finally(() => clearInterval(repeat));
      if (settled) return;
      this.#log.warn({ instanceId, graceMs }, 'guest ignored the power button; stopping it hard');
    }
    await vm.qmp.execute('quit').catch(() => undefined);
    if (!(await settlesWithin(vm.exited, 5_000))) await killHard(vm.pid);
    await vm.exited;
  }

  async reboot(instanceId: string, kind: RebootKind): Promise<void> {
    const vm = this.#running(instanceId);
    vm.hostReboot = true;
    if (kind === 'soft') {
      const reset = vm.qmp.waitForEvent('RESET', limits.softRebootGraceMs);
      reset.catch(() => undefined); // awaited below; if the command fails first, this must not go unhandled
      const keys = ['ctrl', 'alt', 'delete'].map((key) => ({ type: 'qcode', data: key }));
      await vm.qmp.execute('send-key', { keys }).catch((error: unknown) => {
        throw hypervisorError(error, `Ctrl-Alt-Del to ${instanceId}`);
      });
      try {
        await reset;
        return;
      } catch {
        this.#log.warn({ instanceId }, 'guest ignored Ctrl-Alt-Del; resetting it');
      }
    }
    const reset = vm.qmp.waitForEvent('RESET', 5_000);
    reset.catch(() => undefined); // awaited below; if the command fails first, this must not go unhandled
    try {
      await vm.qmp.execute('system_reset');
      await reset;
    } catch (error) {
      throw hypervisorError(error, `reset ${instanceId}`);
    }
  }

  async attachVolume(instanceId: string, disk: DiskSpec): Promise<void> {
    const vm = this.#running(instanceId);
    if (vm.disks.has(disk.serial))
      throw new VmDriverError('disk-exists', `${disk.serial} is already attached to ${instanceId}`);
    const { node } = diskIds(disk.serial);
    const hotDisk: DiskSpec = { ...disk, bootIndex: undefined };
    try {
      await vm.qmp.execute('blockdev-add', blockdevOptions(hotDisk));
    } catch (error) {
      throw hypervisorError(error, `attach ${disk.serial}`);
    }
    try {
      await vm.qmp.execute('device_add', deviceOptions(hotDisk));
    } catch (error) {
      await vm.qmp.execute('blockdev-del', { 'node-name': node }).catch(() => undefined);
      throw hypervisorError(error, `attach ${disk.serial}`);
    }
    vm.disks.set(disk.serial, hotDisk);
    await writeState(vm.paths, vm);
  }

  async detachVolume(instanceId: string, serial: string): Promise<void> {
    const vm = this.#running(instanceId);
    if (!vm.disks.has(serial))
      throw new VmDriverError('disk-not-found', `${serial} is not attached to ${instanceId}`);
    const { node, device } = diskIds(serial);
    const deleted = vm.qmp.waitForEvent(
      'DEVICE_DELETED',
      limits.detachGraceMs,
      (data) => data.device === device,
    );
    const finish = async (): Promise<void> => {
      await vm.qmp.execute('blockdev-del', { 'node-name': node }).catch(() => undefined);
      vm.disks.delete(serial);
      await writeState(vm.paths, vm);
    };
    try {
      await vm.qmp.execute('device_del', { id: device });
    } catch (error) {
      deleted.catch(() => undefined);
      throw hypervisorError(error, `detach ${serial}`);
    }
    try {
      await deleted;
    } catch {
      // The unplug stays pending; finish it when the guest lets go.
      void vm.qmp
        .waitForEvent('DEVICE_DELETED', 24 * 3600_000, (data) => data.device === device)
        .then(finish, () => undefined);
      throw new VmDriverError(
        'timeout',
        `the guest has not released ${serial} within ${limits.detachGraceMs} ms`,
      );
    }
    await finish();
  }

  async pause(instanceId: string): Promise<void> {
    const vm = this.#running(instanceId);
    // `stop` returns after vm_stop drained in-flight I/O and flushed every block node (NBD FLUSH included).
    await vm.qmp.execute('stop').catch((error: unknown) => {
      throw hypervisorError(error, `pause ${instanceId}`);
    });
  }

  async resume(instanceId: string): Promise<void> {
    const vm = this.#running(instanceId);
    await vm.qmp.execute('cont').catch((error: unknown) => {
      throw hypervisorError(error, `resume ${instanceId}`);
    });
  }

  async setHostForwards(instanceId: string, forwards: readonly PortForward[]): Promise<void> {
    const vm = this.#running(instanceId);
    const network = vm.network;
    if (network === undefined) throw new VmDriverError('unsupported', `${instanceId} has no NIC`);
    for (const command of hostForwardCommands(network.forwards, forwards, network.privateIp)) {
      // HMP answers errors as text ("Could not set up host forwarding rule …"), an empty answer is success.
      const answer = await vm.qmp
        .execute<string>('human-monitor-command', { 'command-line': command })
        .catch((error: unknown) => {
          throw hypervisorError(error, command);
        });
      if (answer.trim() !== '' && !answer.includes('host forwarding rule for')) {
        throw new VmDriverError('hypervisor', `${command}: ${answer.trim()}`);
      }
    }
    vm.network = { ...network, forwards: [...forwards] };
    await writeState(vm.paths, vm);
  }

  async consoleOutput(instanceId: string): Promise<string> {
    const paths = vmPaths(this.#dir(instanceId));
    if (!this.#vms.has(instanceId) && !(await exists(paths.dir))) {
      throw new VmDriverError('not-found', `no console for instance ${instanceId}`);
    }
    return readConsoleTail(paths.consoleLog);
  }

  async adopt(): Promise<{ running: VmInfo[]; stoppedIds: string[] }> {
    const root = join(this.#options.stateDir, 'instances');
    const ids = await readdir(root).catch(() => [] as string[]);
    const stoppedIds: string[] = [];
    for (const instanceId of ids) {
      if (this.#vms.has(instanceId) || this.#starting.has(instanceId)) continue;
      const paths = vmPaths(this.#dir(instanceId));
      const pid = await readPid(paths);
      if (
        pid === null ||
        !(await isOurQemu(pid, instanceId)) ||
        !(await this.#adoptOne(instanceId, paths, pid))
      ) {
        await removeRuntimeFiles(paths);
        stoppedIds.push(instanceId);
      }
    }
    return { running: await this.list(), stoppedIds };
  }

  async #adoptOne(instanceId: string, paths: VmPaths, pid: number): Promise<boolean> {
    try {
      const state = JSON.parse(await readFile(paths.stateFile, 'utf8')) as VmState;
      assert(state.instanceId === instanceId, 'vm.json belongs to another instance');
      const qmp = await QmpClient.connect(paths.qmpSocket, limits.qemuStartTimeoutMs);
      const console = await ConsoleLog.connect(paths.consoleSocket, paths.consoleLog).catch(() => null);
      this.#register(instanceId, paths, pid, qmp, console, state);
      // A daemon that died between pause and resume (CreateSnapshots) must not leave the guest frozen.
      const status = await qmp.execute<{ status: string }>('query-status');
      if (status.status === 'paused') await qmp.execute('cont');
      this.#log.info({ instanceId, vmPid: pid }, 'adopted running vm');
      return true;
    } catch (error) {
      this.#log.warn({ instanceId, vmPid: pid, error }, 'cannot adopt; stopping it');
      await killHard(pid);
      return false;
    }
  }

  async list(): Promise<VmInfo[]> {
    return [...this.#vms.values()].map((vm) => ({
      instanceId: vm.instanceId,
      pid: vm.pid,
      diskSerials: [...vm.disks.keys()],
    }));
  }

  onEvent(listener: (event: VmEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const vms = [...this.#vms.values()];
    this.#vms.clear();
    for (const vm of vms) {
      vm.console?.close();
      await vm.qmp.close();
    }
    this.#listeners.clear();
  }
}

function validateSpec(spec: VmSpec): void {
  assert(Number.isInteger(spec.vcpus) && spec.vcpus >= 1, 'vcpus must be a positive integer');
  assert(Number.isInteger(spec.memoryMiB) && spec.memoryMiB >= 64, 'memoryMiB must be at least 64');
  assert(
    spec.disks.length >= 1 && spec.disks[0]?.bootIndex === 0,
    'the root disk comes first, with bootIndex 0',
  );
  const serials = new Set(spec.disks.map((disk) => disk.serial));
  assert(serials.size === spec.disks.length, 'disk serials must be unique');
}

function hypervisorError(error: unknown, what: string): VmDriverError {
  const message = error instanceof QmpError ? error.message : String(error);
  return new VmDriverError('hypervisor', `${what}: ${message}`);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function settlesWithin(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function removeRuntimeFiles(paths: VmPaths): Promise<void> {
  for (const file of [
    paths.qmpSocket,
    paths.consoleSocket,
    paths.pidFile,
    paths.stateFile,
    paths.userData,
    paths.uefiVars,
  ]) {
    await rm(file, { force: true });
  }
}

async function writeState(paths: VmPaths, vm: RunningVm): Promise<void> {
  const state: VmState = {
    instanceId: vm.instanceId,
    disks: [...vm.disks.values()],
    ...(vm.network === undefined ? {} : { network: vm.network }),
  };
  await writeFile(`${paths.stateFile}.new`, JSON.stringify(state));
  await rename(`${paths.stateFile}.new`, paths.stateFile);
}

async function readPid(paths: VmPaths): Promise<number | null> {
  const text = await readFile(paths.pidFile, 'utf8').catch(() => '');
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isSafeInteger(pid) && pid > 1 ? pid : null;
}

/** Whether `pid` is the QEMU of `instanceId` (pids are reused; the -name argument is ours). */
async function isOurQemu(pid: number, instanceId: string): Promise<boolean> {
  if (!isProcessAlive(pid)) return false;
  const commandLine = await processCommandLine(pid);
  return commandLine.includes(qemuVmName(instanceId));
}

async function killHard(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return; // already gone
  }
  await waitForProcessExit(pid, 5_000);
}
