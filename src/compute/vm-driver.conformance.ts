// One conformance suite for every VmDriver (as nova's test_virt_drivers.py): each driver's test file calls
// vmDriverConformance with a harness that makes disks its way. Cases share one VM where they can, so the qemu
// run stays lean: spawn, hot-plug, reboots, adopt and power off happen to the same guest.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeLocalPort } from '../base/free-port.ts';
import { BOOT_MARKER, DISKS_MARKER } from './image/guest-files.ts';
import {
  VmDriverError,
  type DiskSpec,
  type PortForward,
  type VmDriver,
  type VmEvent,
  type VmSpec,
} from './vm-driver.ts';

/** What a driver's test file provides to the suite. */
export interface ConformanceHarness {
  /** The driver under test; the suite subscribes to its events. */
  readonly driver: VmDriver;
  /** A fresh root disk holding its own copy of the demo image, served the driver's way. */
  rootDisk(serial: string): Promise<DiskSpec>;
  /** A fresh blank data disk. */
  dataDisk(serial: string): Promise<DiskSpec>;
  /** A root disk whose NBD endpoint does not exist, so spawn must fail. */
  brokenDisk(serial: string): DiskSpec;
  /** A second driver on the same state, as after a daemon restart (the first one is closed before). */
  reopen(): Promise<VmDriver>;
  /** Anything of `instanceId` left behind on the host (processes, files), described; [] when clean. */
  leftovers(instanceId: string): Promise<string[]>;
  /** Whether the host reaches `forward` of a running VM now (QEMU: a TCP connect is accepted). */
  forwardOpen(instanceId: string, forward: PortForward): Promise<boolean>;
  /** Upper bound for one guest boot to its marker. */
  readonly bootTimeoutMs: number;
  /** Stops what the harness started (disk servers, temp dirs); VMs are destroyed by the suite. */
  cleanup(): Promise<void>;
}

const POLL_MS = 100;

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** The highest boot count the guest has printed, or 0. */
function lastBootCount(console: string): number {
  const counts = [...console.matchAll(new RegExp(`${BOOT_MARKER} count=(\\d+)`, 'g'))].map((match) =>
    Number(match[1]),
  );
  return counts.at(-1) ?? 0;
}

/** The guest's latest disk list as { vda: serial, … }, or null before it printed one. */
function lastDisks(console: string): Record<string, string> | null {
  const lines = console.split(/\r?\n/).filter((line) => line.startsWith(DISKS_MARKER));
  const line = lines.at(-1);
  if (line === undefined) return null;
  const pairs = line
    .slice(DISKS_MARKER.length)
    .trim()
    .split(/\s+/)
    .filter((pair) => pair.includes('='));
  return Object.fromEntries(pairs.map((pair) => pair.split('=') as [string, string]));
}

/** Registers the conformance cases for one driver. `setup` runs once before them. */
export function vmDriverConformance(name: string, setup: () => Promise<ConformanceHarness | string>): void {
  describe(`VmDriver conformance: ${name}`, () => {
    let harness: ConformanceHarness | null = null;
    let skip: string | null = null;
    let driver: VmDriver;
    const events: VmEvent[] = [];
    const spawned = new Set<string>();
    const id = (suffix: string): string => `i-${suffix.padStart(17, '0')}`;
    const vmA = id('a1');
    const rootA = 'vol-0000000000000a001';
    const dataA = 'vol-0000000000000a002';

    const listen = (target: VmDriver): void => void target.onEvent((event) => events.push(event));
    const console = (instanceId: string): Promise<string> => driver.consoleOutput(instanceId);
    const waitEvent = (
      what: string,
      match: (event: VmEvent) => boolean,
      timeoutMs: number,
    ): Promise<VmEvent> => waitFor(what, timeoutMs, async () => events.find(match));
    const spec = (instanceId: string, disks: DiskSpec[], userData?: string): VmSpec => ({
      instanceId,
      vcpus: 1,
      memoryMiB: 256,
      disks,
      ...(userData === undefined ? {} : { userData: Buffer.from(userData) }),
    });
    const guard = (t: { skip: (reason: string) => void }): boolean => {
      if (skip !== null) t.skip(skip);
      return skip !== null;
    };

    before(async () => {
      const made = await setup();
      if (typeof made === 'string') skip = made;
      else {
        harness = made;
        driver = made.driver;
        listen(driver);
      }
    });

    after(async () => {
      if (harness === null) return;
      for (const instanceId of spawned) await driver.destroy(instanceId).catch(() => undefined);
      await driver.close();
      await harness.cleanup();
    });

    test('declares its capabilities', async (t) => {
      if (guard(t)) return;
      const capabilities = await driver.capabilities();
      for (const key of [
        'hotPlug',
        'reboot',
        'console',
        'kvm',
        'uefi',
        'adopt',
        'pause',
        'network',
      ] as const) {
        assert.equal(typeof capabilities[key], 'boolean', `capability ${key}`);
      }
    });

    test('spawn boots the guest: boot marker and root disk serial on the console', async (t) => {
      if (guard(t) || harness === null) return;
      const root = await harness.rootDisk(rootA);
      const info = await driver.spawn(spec(vmA, [root]));
      spawned.add(vmA);
      assert.equal(info.instanceId, vmA);
      assert.deepEqual(info.diskSerials, [rootA]);
      assert.ok(
        (await driver.list()).some((vm) => vm.instanceId === vmA),
        'list() shows the new VM',
      );
      await waitFor('boot marker count=1', harness.bootTimeoutMs, async () =>
        lastBootCount(await console(vmA)) === 1 ? true : undefined,
      );
      const disks = await waitFor(
        'disk list',
        harness.bootTimeoutMs,
        async () => lastDisks(await console(vmA)) ?? undefined,
      );
      assert.deepEqual(disks, { vda: rootA });
      await assert.rejects(
        driver.spawn(spec(vmA, [root])),
        (error: VmDriverError) => error.code === 'exists',
      );
    });

    test('attach: the guest sees the new disk with its serial', async (t) => {
      if (guard(t) || harness === null) return;
      if (!(await driver.capabilities()).hotPlug) return t.skip('driver declares no hot-plug');
      await driver.attachVolume(vmA, await harness.dataDisk(dataA));
      const disks = await waitFor('vdb in the disk list', harness.bootTimeoutMs, async () => {
        const seen = lastDisks(await console(vmA));
        return seen?.vdb === undefined ? undefined : seen;
      });
      assert.deepEqual(disks, { vda: rootA, vdb: dataA });
      assert.deepEqual((await driver.list()).find((vm) => vm.instanceId === vmA)?.diskSerials, [
        rootA,
        dataA,
      ]);
      await assert.rejects(
        driver.attachVolume(vmA, await harness.dataDisk(dataA)),
        (error: VmDriverError) => error.code === 'disk-exists',
      );
    });

    test('detach: the disk disappears from the guest', async (t) => {
      if (guard(t) || harness === null) return;
      if (!(await driver.capabilities()).hotPlug) return t.skip('driver declares no hot-plug');
      await driver.detachVolume(vmA, dataA);
      const disks = await waitFor('vdb gone from the disk list', harness.bootTimeoutMs, async () => {
        const seen = lastDisks(await console(vmA));
        return seen === null || seen.vdb !== undefined ? undefined : seen;
      });
      assert.deepEqual(disks, { vda: rootA });
      await assert.rejects(
        driver.detachVolume(vmA, dataA),
        (error: VmDriverError) => error.code === 'disk-not-found',
      );
    });

    test('pause: the guest runs nothing until resume (a hot-plug goes unnoticed meanwhile)', async (t) => {
      if (guard(t) || harness === null) return;
      const capabilities = await driver.capabilities();
      if (!capabilities.pause || !capabilities.hotPlug) return t.skip('driver declares no pause or hot-plug');
      await driver.pause(vmA);
      await driver.pause(vmA);
      await driver.attachVolume(vmA, await harness.dataDisk(dataA));
      // A running guest prints the new disk list within a second (the attach test waits for exactly that).
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      assert.equal(lastDisks(await console(vmA))?.vdb, undefined, 'a paused guest saw the hot-plug');
      await driver.resume(vmA);
      await waitFor('vdb after resume', harness.bootTimeoutMs, async () =>
        lastDisks(await console(vmA))?.vdb === dataA ? true : undefined,
      );
      await driver.detachVolume(vmA, dataA);
      await waitFor('vdb gone again', harness.bootTimeoutMs, async () =>
        lastDisks(await console(vmA))?.vdb === undefined ? true : undefined,
      );
      await assert.rejects(driver.pause(id('none')), (error: VmDriverError) => error.code === 'not-found');
    });

    for (const kind of ['soft', 'hard'] as const) {
      test(`${kind} reboot: the guest boots again and its boot counter went up`, async (t) => {
        if (guard(t) || harness === null) return;
        const before = lastBootCount(await console(vmA));
        assert.ok(before >= 1, 'the guest booted before');
        const seen = events.length;
        await driver.reboot(vmA, kind);
        await waitFor(`boot marker count=${before + 1}`, harness.bootTimeoutMs, async () =>
          lastBootCount(await console(vmA)) === before + 1 ? true : undefined,
        );
        assert.ok(
          events.slice(seen).some((event) => event.kind === 'rebooted' && event.instanceId === vmA),
          'rebooted event',
        );
      });
    }

    test('restart: a new driver on the same state adopts the running VM', async (t) => {
      if (guard(t) || harness === null) return;
      if (!(await driver.capabilities()).adopt) return t.skip('driver declares no adopt');
      await driver.close();
      driver = await harness.reopen();
      listen(driver);
      const adopted = await driver.adopt();
      assert.deepEqual(
        adopted.running.map((vm) => [vm.instanceId, vm.diskSerials]),
        [[vmA, [rootA]]],
      );
      assert.match(await console(vmA), new RegExp(BOOT_MARKER), 'console survives the restart');
    });

    test('powerOff: the guest stops, a stopped event says host, the console stays readable', async (t) => {
      if (guard(t) || harness === null) return;
      await driver.powerOff(vmA, { timeoutMs: harness.bootTimeoutMs });
      const stopped = await waitEvent(
        'stopped event',
        (e) => e.kind === 'stopped' && e.instanceId === vmA,
        5_000,
      );
      assert.equal(stopped.kind === 'stopped' && stopped.reason, 'host');
      assert.ok(!(await driver.list()).some((vm) => vm.instanceId === vmA), 'list() no longer shows it');
      assert.match(await console(vmA), /STRATA-DEMO: power button/);
      await assert.rejects(driver.powerOff(vmA), (error: VmDriverError) => error.code === 'not-found');
      await driver.destroy(vmA);
      await assert.rejects(console(vmA), (error: VmDriverError) => error.code === 'not-found');
      assert.deepEqual(await harness.leftovers(vmA), []);
    });

    test('a guest that powers itself off (user data) is reported with reason guest', async (t) => {
      if (guard(t) || harness === null) return;
      const vmB = id('b1');
      await driver.spawn(
        spec(vmB, [await harness.rootDisk('vol-0000000000000b001')], '#!/bin/sh\npoweroff\n'),
      );
      spawned.add(vmB);
      const event = await waitEvent(
        'guest stopped event',
        (e) => e.kind === 'stopped' && e.instanceId === vmB,
        2 * harness.bootTimeoutMs,
      );
      assert.equal(event.kind === 'stopped' && event.reason, 'guest');
      assert.match(await console(vmB), /STRATA-DEMO: booted count=1/);
      await driver.destroy(vmB);
      assert.deepEqual(await harness.leftovers(vmB), []);
    });

    test('a NIC: the driver listens on its sockets, and setHostForwards changes forwards live', async (t) => {
      if (guard(t) || harness === null) return;
      if (!(await driver.capabilities()).network) return t.skip('the driver has no network capability');
      const vmN = id('e1');
      const sockets = await mkdtemp(join(tmpdir(), 'strata-nic-'));
      t.after(() => rm(sockets, { recursive: true, force: true }));
      const forward = async (host: string): Promise<PortForward> => ({
        protocol: 'tcp',
        hostIp: host,
        port: await freeLocalPort(host),
      });
      const first = await forward('127.100.254.1');
      const second = await forward('127.100.254.2');
      // A blank root: the guest never boots, and the host side of the NIC is all this case looks at.
      const root = { ...(await harness.dataDisk('vol-0000000000000e001')), bootIndex: 0 };
      await driver.spawn({
        ...spec(vmN, [root]),
        instanceType: 't3.micro',
        nic: {
          mac: '02:00:00:00:0e:01',
          subnetCidr: '172.31.0.0/20',
          privateIp: '172.31.0.14',
          hostname: 'ip-172-31-0-14',
          nicSocketPath: join(sockets, 'nic.sock'),
          uplinkSocketPath: join(sockets, 'uplink.sock'),
          metadataCommand: 'true',
          hostForwards: [first],
        },
      });
      spawned.add(vmN);
      for (const name of ['nic.sock', 'uplink.sock'])
        assert.ok((await stat(join(sockets, name))).isSocket(), `the driver listens on ${name}`);
      assert.ok(await harness.forwardOpen(vmN, first), 'the forward given at spawn is open');
      await driver.setHostForwards(vmN, [second]);
      assert.ok(!(await harness.forwardOpen(vmN, first)), 'a forward taken away is closed');
      assert.ok(await harness.forwardOpen(vmN, second), 'a forward added is open');
      await driver.setHostForwards(vmN, [second]);
      assert.ok(await harness.forwardOpen(vmN, second), 'setting the same forwards again changes nothing');
      await assert.rejects(
        driver.setHostForwards(id('dead'), []),
        (error: VmDriverError) => error.code === 'not-found',
      );
      await driver.destroy(vmN);
      spawned.delete(vmN);
      assert.deepEqual(await harness.leftovers(vmN), []);
    });

    test('destroying a missing instance succeeds', async (t) => {
      if (guard(t)) return;
      await driver.destroy(id('dead'));
      assert.ok(!(await driver.list()).some((vm) => vm.instanceId === id('dead')));
    });

    test('a failed spawn (unreachable NBD socket) leaves nothing behind', async (t) => {
      if (guard(t) || harness === null) return;
      const vmC = id('c1');
      await assert.rejects(
        driver.spawn(spec(vmC, [harness.brokenDisk('vol-0000000000000c001')])),
        (error: VmDriverError) => error instanceof VmDriverError && error.code === 'spawn-failed',
      );
      assert.ok(!(await driver.list()).some((vm) => vm.instanceId === vmC));
      await assert.rejects(console(vmC), (error: VmDriverError) => error.code === 'not-found');
      assert.deepEqual(await harness.leftovers(vmC), []);
    });
  });
}
