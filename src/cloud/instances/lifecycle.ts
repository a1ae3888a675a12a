// The instance state machine over the VmDriver: launch, start, stop, reboot, terminate, guest power-off and
// restart reconciliation. Requests move the row to a transitional state and queue the driver call; the
// final state follows the driver's result or its events, never a timer. Work on one instance runs in order
// through a queue keyed by its id, so a 'stopped' event is handled after the call that caused it.
import type { Kysely, Updateable } from 'kysely';
import type { InstancesTable } from '../../db/tables/instances.ts';
import { assertNever } from '../../base/assert.ts';
import { limits } from '../../base/limits.ts';
import type { Logger } from '../../base/log.ts';
import { ec2Error } from '../errors.ts';
import type { Database } from '../../db/schema.ts';
import { nowIso } from '../../db/schema.ts';
import { VmDriverError, type VmDriver, type VmEvent } from '../../compute/vm-driver.ts';
import type { NbdServer } from '../../nbd/nbd-server.ts';
import type { BlockStore } from '../../storage/block-store.ts';
import type { Ebs } from '../ebs/ebs.ts';
import type { WorkQueue } from '../common/work-queue.ts';
import {
  diskSpecs,
  emptyEphemeralDisks,
  exportFor,
  mappingsOf,
  materializeVolumes,
  removeEphemeralDisks,
} from './disks.ts';
import { releaseImageFile, rootOverlay } from '../images/instance-store-images.ts';
import { instanceType, scaledForHost } from './instance-types.ts';
import { instanceState, type InstanceState, type StateChange } from './instance-states.ts';
import { requireStates, type InstanceRecords, type InstanceRow } from './instance-records.ts';
import { noDryRun, type DryRunCheck } from '../common/dry-run.ts';
import type { LaunchAddresses } from '../addresses/public-addresses.ts';
import type { NetworkAttachments } from './network-attachments.ts';
import { checkStoppable } from './instance-options.ts';

/** What the lifecycle is built from. */
export interface InstanceLifecycleDeps {
  readonly db: Kysely<Database>;
  readonly store: BlockStore;
  readonly nbd: NbdServer;
  readonly dataDir: string;
  readonly logger: Logger;
  readonly ebs: Ebs;
  readonly driver: VmDriver;
  /** Instance rows (the lifecycle never needs the InstanceService that hands it launches). */
  readonly instances: InstanceRecords;
  readonly work: WorkQueue;
  /** Public addresses: taken on launch, given back on stop and terminate (cloud/addresses/). */
  readonly addresses?: LaunchAddresses;
  /** The host's network side; without it instances run with no NIC. */
  readonly network?: NetworkAttachments;
}

/** StateReason codes EC2 reports. */
type ReasonCode =
  | 'Client.UserInitiatedShutdown'
  | 'Client.InstanceInitiatedShutdown'
  | 'Server.InternalError'
  | 'Server.ScheduledStop'
  | 'Server.SpotInstanceTermination';

/** Runs the EC2 state machine for every instance. */
export class InstanceLifecycle {
  readonly #deps: InstanceLifecycleDeps;
  readonly #unsubscribe: () => void;
  /** Host-side power-offs whose 'stopped' event is part of a transition that keeps the instance running. */
  readonly #expectedStops = new Map<string, number>();

  constructor(deps: InstanceLifecycleDeps) {
    this.#deps = deps;
    this.#unsubscribe = deps.driver.onEvent((event) => {
      this.#enqueue(event.instanceId, () => this.#onEvent(event));
    });
  }

  #enqueue(instanceId: string, job: () => Promise<void>): void {
    this.#deps.work.enqueue(instanceId, job, async () => {
      // A failed transition leaves the instance where a retry (or a restart's reconcile) can pick it up.
    });
  }

  async #setState(
    instanceId: string,
    from: readonly InstanceState[],
    to: InstanceState,
    extra: Updateable<InstancesTable> = {},
  ): Promise<boolean> {
    const result = await this.#deps.db
      .updateTable('instances')
      .set({ state: to, ...extra })
      .where('id', '=', instanceId)
      .where('state', 'in', from)
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }

  /** Boots a `pending` instance in the background (RunInstances, StartInstances, recovery). */
  launch(instanceId: string): void {
    this.#enqueue(instanceId, () => this.#boot(instanceId));
  }

  async #boot(instanceId: string): Promise<void> {
    const row = await this.#deps.instances.byId(instanceId);
    if (row?.state !== 'pending') return;
    const firstBoot = row.state_reason_code === 'pending';
    try {
      await this.#deps.addresses?.assignOnLaunch(instanceId);
      await this.#spawn(row);
    } catch (error) {
      if (!(error instanceof VmDriverError && error.code === 'exists')) {
        this.#deps.logger.error({ err: error, instanceId }, 'instance failed to start');
        await this.#failLaunch(row, firstBoot, (error as Error).message);
        return;
      }
    }
    await this.#setState(instanceId, ['pending'], 'running', {
      state_reason_code: null,
      state_transition_reason: '',
    });
  }

  async #spawn(row: InstanceRow): Promise<void> {
    await materializeVolumes(this.#deps.db, this.#deps.ebs.volumes, row.id);
    const size = scaledForHost(instanceType(row.instance_type));
    const instanceStoreRoot =
      row.root_device_type === 'instance-store'
        ? { imageId: row.image_id, file: await rootOverlay(this.#deps.dataDir, row.id, row.image_id) }
        : undefined;
    const disks = await diskSpecs(this.#deps, row.id, row.root_device_name, instanceStoreRoot);
    const { network, driver } = this.#deps;
    const nic = await network?.prepare(row.id);
    try {
      await driver.spawn({
        instanceId: row.id,
        ...size,
        disks,
        instanceType: row.instance_type,
        ...(nic !== undefined ? { nic } : {}),
        // The fake driver acts on user data; QEMU hands it over fw_cfg only to a VM without a NIC.
        ...(row.user_data !== null ? { userData: Buffer.from(row.user_data, 'base64') } : {}),
        bootMode: row.boot_mode === 'uefi' ? 'uefi' : 'bios',
      });
    } catch (error) {
      if (!(error instanceof VmDriverError && error.code === 'exists')) await network?.release(row.id);
      throw error;
    }
    // The VM runs: a guest that powered off at once (its stopped event follows) or a switch that cannot reach
    // it is not a failed launch; the instance's state follows the VM, and the log says what the network lacks.
    await network?.started(row.id).catch((error: unknown) => {
      this.#deps.logger.warn({ err: error, instanceId: row.id }, 'cannot connect the VM to its VPC switch');
    });
  }

  /**
   * CreateImage without NoReboot: runs `fn` with the VM of a running instance shut down (the guest flushes
   * its file systems), then boots it again; the instance stays `running` throughout, as in EC2.
   */
  async withVmStopped<T>(instanceId: string, fn: () => Promise<T>): Promise<T> {
    return this.#deps.work.exclusive(instanceId, async () => {
      const row = await this.#deps.instances.byId(instanceId);
      if (row?.state !== 'running') return fn();
      // The 'stopped' event this causes is handled after this job; it must not stop the instance.
      this.#expectedStops.set(instanceId, (this.#expectedStops.get(instanceId) ?? 0) + 1);
      await this.#deps.driver.powerOff(instanceId, { timeoutMs: limits.powerOffGraceMs });
      try {
        return await fn();
      } finally {
        await this.#spawn(row);
      }
    });
  }

  // EC2: an instance that cannot launch ends terminated; one that cannot start again goes back to stopped.
  async #failLaunch(row: InstanceRow, firstBoot: boolean, message: string): Promise<void> {
    const reason = {
      state_reason_code: 'Server.InternalError',
      state_transition_reason: `Server.InternalError: ${message}`,
    };
    if (!firstBoot) {
      await this.#setState(row.id, ['pending'], 'stopped', reason);
      return;
    }
    if (await this.#setState(row.id, ['pending'], 'shutting-down', reason))
      await this.#finishTerminate(row.id);
  }

  /** StartInstances: stopped → pending → running; running and pending are left as they are. */
  async start(accountId: string, ids: readonly string[], dryRun: DryRunCheck): Promise<StateChange[]> {
    const rows = await this.#deps.instances.owned(accountId, ids);
    requireStates(rows, ['stopped', 'pending', 'running'], 'started');
    for (const row of rows) if (row.state === 'stopped') await this.#requireRoot(row);
    dryRun();
    const changes: StateChange[] = [];
    for (const row of rows) {
      const previous = instanceState(row.state);
      if (
        previous === 'stopped' &&
        (await this.#setState(row.id, ['stopped'], 'pending', {
          launch_time: nowIso(),
          state_reason_code: null,
          state_transition_reason: '',
        }))
      ) {
        this.launch(row.id);
        changes.push({ instanceId: row.id, previous, current: 'pending' });
      } else changes.push({ instanceId: row.id, previous, current: previous });
    }
    return changes;
  }

  // A stopped instance whose root volume was detached cannot boot until one is attached at its root device.
  async #requireRoot(row: InstanceRow): Promise<void> {
    const mappings = await mappingsOf(this.#deps.db, [row.id]);
    if (!mappings.some((m) => m.device_name === row.root_device_name && m.volume_id !== null)) {
      throw ec2Error(
        'IncorrectInstanceState',
        `The instance '${row.id}' has no volume attached at its root device ${row.root_device_name}.`,
      );
    }
  }

  /** StopInstances: running → stopping → stopped; Force stops at once. */
  async stop(
    accountId: string,
    ids: readonly string[],
    force: boolean,
    dryRun: DryRunCheck,
  ): Promise<StateChange[]> {
    const rows = await this.#deps.instances.owned(accountId, ids);
    for (const row of rows) {
      checkStoppable(row);
      if (row.root_device_type === 'instance-store') {
        throw ec2Error(
          'UnsupportedOperation',
          `The instance '${row.id}' does not have an 'ebs' root device type and cannot be stopped.`,
        );
      }
    }
    requireStates(rows, ['running', 'stopping', 'stopped'], 'stopped');
    dryRun();
    const changes: StateChange[] = [];
    const reason = transitionReason('Client.UserInitiatedShutdown');
    for (const row of rows) {
      const previous = instanceState(row.state);
      const moved = previous === 'running' && (await this.#setState(row.id, ['running'], 'stopping', reason));
      if (moved) this.#userAsked(row.id, 'StopInstances');
      if (moved || (previous === 'stopping' && force))
        this.#enqueue(row.id, () => this.#powerOff(row.id, force));
      changes.push({ instanceId: row.id, previous, current: previous === 'running' ? 'stopping' : previous });
    }
    return changes;
  }

  async #powerOff(
    instanceId: string,
    force: boolean,
    code: ReasonCode = 'Client.UserInitiatedShutdown',
  ): Promise<void> {
    try {
      await this.#deps.driver.powerOff(instanceId, { timeoutMs: force ? 0 : limits.powerOffGraceMs });
    } catch (error) {
      if (!(error instanceof VmDriverError && error.code === 'not-found')) throw error;
    }
    await this.#finishStop(instanceId, ['stopping'], code);
  }

  // The driver sees a stop the user asked for as one the host made (its `vm stopped` line says reason host):
  // the initiative is logged here, where it is known.
  #userAsked(instanceId: string, action: 'StopInstances' | 'TerminateInstances'): void {
    this.#deps.logger.info({ instanceId, initiative: 'user', action }, 'instance shutdown asked by the user');
  }

  async #finishStop(instanceId: string, from: readonly InstanceState[], code: ReasonCode): Promise<void> {
    if (!(await this.#setState(instanceId, from, 'stopped', transitionReason(code)))) return;
    await this.#deps.network?.release(instanceId);
    await this.#deps.addresses?.releaseOnStop(instanceId);
    await emptyEphemeralDisks(this.#deps, instanceId);
  }

  /** RebootInstances: asks the guest to restart (falling back to a reset); the instance stays running. */
  async reboot(accountId: string, ids: readonly string[], dryRun: DryRunCheck): Promise<void> {
    const rows = await this.#deps.instances.owned(accountId, ids);
    requireStates(rows, ['running'], 'rebooted');
    dryRun();
    for (const row of rows) {
      this.#enqueue(row.id, async () => {
        const current = await this.#deps.instances.byId(row.id);
        if (current?.state === 'running') await this.#deps.driver.reboot(row.id, 'soft');
      });
    }
  }

  /** TerminateInstances: → shutting-down → terminated; DeleteOnTermination volumes go, the rest detach. */
  async terminate(accountId: string, ids: readonly string[], dryRun: DryRunCheck): Promise<StateChange[]> {
    const rows = await this.#deps.instances.owned(accountId, ids);
    for (const row of rows) {
      if (row.disable_api_termination === 1) {
        throw ec2Error(
          'OperationNotPermitted',
          `The instance '${row.id}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.`,
        );
      }
    }
    dryRun();
    const changes: StateChange[] = [];
    const reason = transitionReason('Client.UserInitiatedShutdown');
    for (const row of rows) {
      const previous = instanceState(row.state);
      const live: InstanceState[] = ['pending', 'running', 'stopping', 'stopped'];
      if (live.includes(previous) && (await this.#setState(row.id, live, 'shutting-down', reason))) {
        this.#userAsked(row.id, 'TerminateInstances');
        this.#enqueue(row.id, () => this.#finishTerminate(row.id));
      }
      changes.push({
        instanceId: row.id,
        previous,
        current: previous === 'terminated' ? 'terminated' : 'shutting-down',
      });
    }
    return changes;
  }

  async #finishTerminate(instanceId: string): Promise<void> {
    const row = await this.#deps.instances.byId(instanceId);
    if (row?.state !== 'shutting-down') return;
    await this.#deps.driver.destroy(instanceId);
    await this.#deps.network?.release(instanceId);
    await this.#releaseVolumes(row);
    await removeEphemeralDisks(this.#deps.dataDir, instanceId);
    await this.#setState(instanceId, ['shutting-down'], 'terminated', { terminated_at: nowIso() });
    await this.#deps.addresses?.releaseOnTerminate(instanceId);
    if (row.root_device_type === 'instance-store')
      await releaseImageFile(this.#deps.db, this.#deps.dataDir, row.image_id);
  }

  // Volumes first go back to `available` (detached); DeleteOnTermination ones are then deleted through EBS.
  async #releaseVolumes(row: InstanceRow): Promise<void> {
    const { db, nbd, ebs } = this.#deps;
    for (const mapping of await mappingsOf(db, [row.id])) {
      const volumeId = mapping.volume_id;
      if (volumeId === null) continue;
      nbd.unlock(volumeId);
      await ebs.volumes.release(volumeId);
      if (mapping.delete_on_termination === 1) {
        await ebs.volumes.delete(row.account_id, volumeId, noDryRun).catch((error: unknown) => {
          this.#deps.logger.warn({ err: error, volumeId }, 'could not delete a DeleteOnTermination volume');
        });
      }
    }
    await db.deleteFrom('block_device_mappings').where('owner_id', '=', row.id).execute();
  }

  async #onEvent(event: VmEvent): Promise<void> {
    if (event.kind === 'rebooted') return;
    const expected = this.#expectedStops.get(event.instanceId) ?? 0;
    if (expected > 0 && event.reason === 'host') {
      if (expected === 1) this.#expectedStops.delete(event.instanceId);
      else this.#expectedStops.set(event.instanceId, expected - 1);
      return;
    }
    const row = await this.#deps.instances.byId(event.instanceId);
    if (row === undefined) return;
    if (row.state === 'stopping') {
      await this.#finishStop(row.id, ['stopping'], 'Client.UserInitiatedShutdown');
      return;
    }
    if (row.state !== 'running') return;
    if (event.reason !== 'guest') {
      this.#deps.logger.warn({ instanceId: row.id, detail: event.detail }, 'instance VM stopped unasked');
      await this.#finishStop(row.id, ['running'], 'Server.InternalError');
    } else if (row.shutdown_behavior === 'terminate' || row.root_device_type === 'instance-store') {
      const reason = {
        state_reason_code: 'Client.InstanceInitiatedShutdown',
        state_transition_reason: `Client.InstanceInitiatedShutdown: Instance initiated shutdown`,
      };
      if (await this.#setState(row.id, ['running'], 'shutting-down', reason))
        await this.#finishTerminate(row.id);
    } else {
      await this.#finishStop(row.id, ['running'], 'Client.InstanceInitiatedShutdown');
    }
  }

  /** After a daemon restart: re-adopts VMs and settles every instance a previous daemon left in flight. */
  async recover(): Promise<void> {
    const { db, driver, nbd, logger } = this.#deps;
    const adopted = await driver.adopt();
    const running = new Set(adopted.running.map((vm) => vm.instanceId));
    const rows = await db.selectFrom('instances').selectAll().where('state', '!=', 'terminated').execute();
    for (const row of rows) {
      // Attachment locks live in the NBD server's memory: take them again for every attached volume.
      for (const m of await mappingsOf(db, [row.id])) {
        if (m.volume_id === null || m.attachment_state !== 'attached') continue;
        try {
          exportFor(nbd, m.volume_id, row.id);
        } catch (error) {
          logger.error(
            { err: error, volumeId: m.volume_id, instanceId: row.id },
            'cannot lock an attached volume',
          );
        }
      }
      logger.info(
        { instanceId: row.id, state: row.state, vmRunning: running.has(row.id) },
        'reconciling instance',
      );
      this.#enqueue(row.id, () => this.#reconcile(row, running.has(row.id)));
    }
  }

  async #reconcile(row: InstanceRow, vmRunning: boolean): Promise<void> {
    const state = instanceState(row.state);
    switch (state) {
      case 'pending':
        if (!vmRunning) await this.#boot(row.id);
        else if (await this.#setState(row.id, ['pending'], 'running')) await this.#readopt(row.id);
        return;
      case 'running':
        if (!vmRunning) await this.#finishStop(row.id, ['running'], 'Server.InternalError');
        else await this.#readopt(row.id);
        return;
      case 'stopping':
        if (vmRunning) await this.#powerOff(row.id, false);
        else await this.#finishStop(row.id, ['stopping'], 'Client.UserInitiatedShutdown');
        return;
      case 'stopped':
        if (vmRunning) await this.#deps.driver.destroy(row.id);
        return;
      case 'shutting-down':
        await this.#finishTerminate(row.id);
        return;
      case 'terminated':
        return;
      default:
        assertNever(state, 'instance state');
    }
  }

  // An adopted VM gets its switch ports, metadata channel and current forwards back; QEMU takes the
  // switch's new connection. A failure leaves the guest running without a network (logged), never stops it.
  async #readopt(instanceId: string): Promise<void> {
    await this.#deps.network?.adopted(instanceId).catch((error: unknown) => {
      this.#deps.logger.error({ err: error, instanceId }, 'cannot reconnect an adopted VM to its network');
    });
  }

  /**
   * Daemon shutdown with `--vms-on-shutdown stop`: every running instance goes running → stopping → stopped
   * (graceful power-off, as StopInstances), with reason Server.ScheduledStop. Resolves when all are stopped.
   */
  async stopAll(): Promise<void> {
    const rows = await this.#deps.db
      .selectFrom('instances')
      .select('id')
      .where('state', '=', 'running')
      .execute();
    const reason = {
      state_reason_code: 'Server.ScheduledStop',
      state_transition_reason: `Server.ScheduledStop (${nowIso()})`,
    };
    for (const row of rows) {
      if (!(await this.#setState(row.id, ['running'], 'stopping', reason))) continue;
      this.#enqueue(row.id, () => this.#powerOff(row.id, false, 'Server.ScheduledStop'));
    }
  }

  /** Stops listening to the driver (VMs keep running for the next daemon's adopt). */
  close(): void {
    this.#unsubscribe();
  }
}

/** The state reason of a transition for `code`, stamped now (the stamp is the text's last part, as in EC2). */
function transitionReason(code: ReasonCode): {
  state_reason_code: ReasonCode;
  state_transition_reason: string;
} {
  return { state_reason_code: code, state_transition_reason: `${transitionText(code)} (${nowIso()})` };
}

function transitionText(code: ReasonCode): string {
  switch (code) {
    case 'Client.UserInitiatedShutdown':
      return 'User initiated';
    case 'Client.InstanceInitiatedShutdown':
      return 'Client.InstanceInitiatedShutdown: Instance initiated shutdown';
    case 'Server.InternalError':
      return 'Server.InternalError: the VM stopped unexpectedly';
    case 'Server.ScheduledStop':
      return 'Server.ScheduledStop: Stopped because the Strata daemon shut down';
    case 'Server.SpotInstanceTermination':
      return 'Server.SpotInstanceTermination';
    default:
      return assertNever(code, 'reason code');
  }
}
