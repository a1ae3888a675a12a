// One conformance suite for every VmDriver (as nova's test_virt_drivers.py): each driver's test file calls
// vmDriverConformance with a harness that makes disks its way. Cases share one VM where they can, so the qemu
// run stays lean: spawn, hot-plug, reboots, adopt and power off happen to the same guest.
import { after, before, describe, test, type TestContext } from 'node:test';
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

const id = (suffix: string): string => `i-${suffix.padStart(17, '0')}`;
const vmA = id('a1');
const rootA = 'vol-0000000000000a001';
const dataA = 'vol-0000000000000a002';

function spec(instanceId: string, disks: DiskSpec[], userData?: string): VmSpec {
  return {
    instanceId,
    vcpus: 1,
    memoryMiB: 256,
    disks,
    ...(userData === undefined ? {} : { userData: Buffer.from(userData) }),
  };
}

/** What the cases share: the harness, the driver under test (replaced on restart), its events, the VMs made. */
class Suite {
  harness: ConformanceHarness | null = null;
  /** Why the driver cannot run here (from setup), or null. */
  skip: string | null = null;
  driver!: VmDriver;
  readonly events: VmEvent[] = [];
  readonly spawned = new Set<string>();

  /** Records every event of `target`. */
  listen(target: VmDriver): void {
    void target.onEvent((event) => this.events.push(event));
  }

  /** The serial console output of `instanceId` so far. */
  console(instanceId: string): Promise<string> {
    return this.driver.consoleOutput(instanceId);
  }

  /** The first event (seen so far or later) that `match` accepts. */
  waitEvent(what: string, match: (event: VmEvent) => boolean, timeoutMs: number): Promise<VmEvent> {
    return waitFor(what, timeoutMs, async () => this.events.find(match));
  }
}

/** One conformance case, given the suite and the harness (registered only when setup made one). */
type Case = (suite: Suite, harness: ConformanceHarness, t: TestContext) => Promise<void>;

/** Registers `body` as test `name`: skipped with setup's reason when the driver cannot run here. */
function conformanceCase(suite: Suite, name: string, body: Case): void {
  test(name, async (t) => {
    if (suite.skip !== null) return t.skip(suite.skip);
    assert.ok(suite.harness !== null, 'setup made a harness');
    await body(suite, suite.harness, t);
  });
}

const declaresCapabilities: Case = async ({ driver }) => {
  const capabilities = await driver.capabilities();
  const keys = ['hotPlug', 'reboot', 'console', 'kvm', 'uefi', 'adopt', 'pause', 'network'] as const;
  for (const key of keys) assert.equal(typeof capabilities[key], 'boolean', `capability ${key}`);
};

const spawnBoots: Case = async (suite, harness) => {
  const { driver } = suite;
  const root = await harness.rootDisk(rootA);
  const info = await driver.spawn(spec(vmA, [root]));
  suite.spawned.add(vmA);
  assert.equal(info.instanceId, vmA);
  assert.deepEqual(info.diskSerials, [rootA]);
  assert.ok(
    (await driver.list()).some((vm) => vm.instanceId === vmA),
    'list() shows the new VM',
  );
  await waitFor('boot marker count=1', harness.bootTimeoutMs, async () =>
    lastBootCount(await suite.console(vmA)) === 1 ? true : undefined,
  );
  const disks = await waitFor(
    'disk list',
    harness.bootTimeoutMs,
    async () => lastDisks(await suite.console(vmA)) ?? undefined,
  );
  assert.deepEqual(disks, { vda: rootA });
  await assert.rejects(driver.spawn(spec(vmA, [root])), (error: VmDriverError) => error.code === 'exists');
};

const attachShowsDisk: Case = async (suite, harness, t) => {
  const { driver } = suite;
  if (!(await driver.capabilities()).hotPlug) return t.skip('driver declares no hot-plug');
  await driver.attachVolume(vmA, await harness.dataDisk(dataA));
  const disks = await waitFor('vdb in the disk list', harness.bootTimeoutMs, async () => {
    const seen = lastDisks(await suite.console(vmA));
    return seen?.vdb === undefined ? undefined : seen;
  });
  assert.deepEqual(disks, { vda: rootA, vdb: dataA });
  assert.deepEqual((await driver.list()).find((vm) => vm.instanceId === vmA)?.diskSerials, [rootA, dataA]);
  await assert.rejects(
    driver.attachVolume(vmA, await harness.dataDisk(dataA)),
    (error: VmDriverError) => error.code === 'disk-exists',
  );
};

const detachRemovesDisk: Case = async (suite, harness, t) => {
  const { driver } = suite;
  if (!(await driver.capabilities()).hotPlug) return t.skip('driver declares no hot-plug');
  await driver.detachVolume(vmA, dataA);
  const disks = await waitFor('vdb gone from the disk list', harness.bootTimeoutMs, async () => {
    const seen = lastDisks(await suite.console(vmA));
    return seen === null || seen.vdb !== undefined ? undefined : seen;
  });
  assert.deepEqual(disks, { vda: rootA });
  await assert.rejects(
    driver.detachVolume(vmA, dataA),
    (error: VmDriverError) => error.code === 'disk-not-found',
  );
};

const pauseFreezesGuest: Case = async (suite, harness, t) => {
  const { driver } = suite;
  const capabilities = await driver.capabilities();
  if (!capabilities.pause || !capabilities.hotPlug) return t.skip('driver declares no pause or hot-plug');
  await driver.pause(vmA);
  await driver.pause(vmA);
  await driver.attachVolume(vmA, await harness.dataDisk(dataA));
  // A running guest prints the new disk list within a second (the attach test waits for exactly that).
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  assert.equal(lastDisks(await suite.console(vmA))?.vdb, undefined, 'a paused guest saw the hot-plug');
  await driver.resume(vmA);
  await waitFor('vdb after resume', harness.bootTimeoutMs, async () =>
    lastDisks(await suite.console(vmA))?.vdb === dataA ? true : undefined,
  );
  await driver.detachVolume(vmA, dataA);
  await waitFor('vdb gone again', harness.bootTimeoutMs, async () =>
    lastDisks(await suite.console(vmA))?.vdb === undefined ? true : undefined,
  );
  await assert.rejects(driver.pause(id('none')), (error: VmDriverError) => error.code === 'not-found');
};

/** A reboot of `kind`: the guest boots again and its boot counter went up. */
function rebootCounts(kind: 'soft' | 'hard'): Case {
  return async (suite, harness) => {
    const before = lastBootCount(await suite.console(vmA));
    assert.ok(before >= 1, 'the guest booted before');
    const seen = suite.events.length;
    await suite.driver.reboot(vmA, kind);
    await waitFor(`boot marker count=${before + 1}`, harness.bootTimeoutMs, async () =>
      lastBootCount(await suite.console(vmA)) === before + 1 ? true : undefined,
    );
    assert.ok(
      suite.events.slice(seen).some((event) => event.kind === 'rebooted' && event.instanceId === vmA),
      'rebooted event',
    );
  };
}

const restartAdopts: Case = async (suite, harness, t) => {
  if (!(await suite.driver.capabilities()).adopt) return t.skip('driver declares no adopt');
  await suite.driver.close();
  suite.driver = await harness.reopen();
  suite.listen(suite.driver);
  const adopted = await suite.driver.adopt();
  assert.deepEqual(
    adopted.running.map((vm) => [vm.instanceId, vm.diskSerials]),
    [[vmA, [rootA]]],
  );
  assert.match(await suite.console(vmA), new RegExp(BOOT_MARKER), 'console survives the restart');
};

const powerOffStops: Case = async (suite, harness) => {
  const { driver } = suite;
  await driver.powerOff(vmA, { timeoutMs: harness.bootTimeoutMs });
  const stopped = await suite.waitEvent(
    'stopped event',
    (e) => e.kind === 'stopped' && e.instanceId === vmA,
    5_000,
  );
  assert.equal(stopped.kind === 'stopped' && stopped.reason, 'host');
  assert.ok(!(await driver.list()).some((vm) => vm.instanceId === vmA), 'list() no longer shows it');
  assert.match(await suite.console(vmA), /STRATA-DEMO: power button/);
  await assert.rejects(driver.powerOff(vmA), (error: VmDriverError) => error.code === 'not-found');
  await driver.destroy(vmA);
  await assert.rejects(suite.console(vmA), (error: VmDriverError) => error.code === 'not-found');
  assert.deepEqual(await harness.leftovers(vmA), []);
};

const guestPowerOff: Case = async (suite, harness) => {
  const { driver } = suite;
  const vmB = id('b1');
  await driver.spawn(spec(vmB, [await harness.rootDisk('vol-0000000000000b001')], '#!/bin/sh\npoweroff\n'));
  suite.spawned.add(vmB);
  const event = await suite.waitEvent(
    'guest stopped event',
    (e) => e.kind === 'stopped' && e.instanceId === vmB,
    2 * harness.bootTimeoutMs,
  );
  assert.equal(event.kind === 'stopped' && event.reason, 'guest');
  assert.match(await suite.console(vmB), /STRATA-DEMO: booted count=1/);
  await driver.destroy(vmB);
  assert.deepEqual(await harness.leftovers(vmB), []);
};

const nicForwards: Case = async (suite, harness, t) => {
  const { driver } = suite;
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
  suite.spawned.add(vmN);
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
  suite.spawned.delete(vmN);
  assert.deepEqual(await harness.leftovers(vmN), []);
};

const destroyMissing: Case = async ({ driver }) => {
  await driver.destroy(id('dead'));
  assert.ok(!(await driver.list()).some((vm) => vm.instanceId === id('dead')));
};

const failedSpawnCleans: Case = async (suite, harness) => {
  const vmC = id('c1');
  await assert.rejects(
    suite.driver.spawn(spec(vmC, [harness.brokenDisk('vol-0000000000000c001')])),
    (error: VmDriverError) => error instanceof VmDriverError && error.code === 'spawn-failed',
  );
  assert.ok(!(await suite.driver.list()).some((vm) => vm.instanceId === vmC));
  await assert.rejects(suite.console(vmC), (error: VmDriverError) => error.code === 'not-found');
  assert.deepEqual(await harness.leftovers(vmC), []);
};

/** Registers the conformance cases for one driver. `setup` runs once before them. */
export function vmDriverConformance(name: string, setup: () => Promise<ConformanceHarness | string>): void {
  describe(`VmDriver conformance: ${name}`, () => {
    const suite = new Suite();

    before(async () => {
      const made = await setup();
      if (typeof made === 'string') suite.skip = made;
      else {
        suite.harness = made;
        suite.driver = made.driver;
        suite.listen(made.driver);
      }
    });

    after(async () => {
      const { harness, driver } = suite;
      if (harness === null) return;
      for (const instanceId of suite.spawned) await driver.destroy(instanceId).catch(() => undefined);
      await driver.close();
      await harness.cleanup();
    });

    const cases: [string, Case][] = [
      ['declares its capabilities', declaresCapabilities],
      ['spawn boots the guest: boot marker and root disk serial on the console', spawnBoots],
      ['attach: the guest sees the new disk with its serial', attachShowsDisk],
      ['detach: the disk disappears from the guest', detachRemovesDisk],
      ['pause: the guest runs nothing until resume (a hot-plug goes unnoticed meanwhile)', pauseFreezesGuest],
      ['soft reboot: the guest boots again and its boot counter went up', rebootCounts('soft')],
      ['hard reboot: the guest boots again and its boot counter went up', rebootCounts('hard')],
      ['restart: a new driver on the same state adopts the running VM', restartAdopts],
      ['powerOff: the guest stops, a stopped event says host, the console stays readable', powerOffStops],
      ['a guest that powers itself off (user data) is reported with reason guest', guestPowerOff],
      ['a NIC: the driver listens on its sockets, and setHostForwards changes forwards live', nicForwards],
      ['destroying a missing instance succeeds', destroyMissing],
      ['a failed spawn (unreachable NBD socket) leaves nothing behind', failedSpawnCleans],
    ];
    for (const [title, body] of cases) conformanceCase(suite, title, body);
  });
}
