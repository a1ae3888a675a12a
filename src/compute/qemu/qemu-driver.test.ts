// The qemu driver against the shared conformance suite, with real QEMU under TCG booting the real demo image.
// Root disks are served by qemu-nbd on unix sockets, data disks on 127.0.0.1 TCP; one more test boots from
// Strata's own block store and NBD server.
import type { ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vmDriverConformance } from '../vm-driver.conformance.ts';
import { BOOT_MARKER } from '../image/guest-files.ts';
import type { VmEvent } from '../vm-driver.ts';
import { buildDemoImage } from '../image/demo-image.ts';
import { createQemuDriver } from './qemu-driver.ts';
import { processCommandLine } from './process.ts';
import { missingTool } from '../testing-tools.ts';
import { serveFileWithQemuNbd, serveFileWithQemuNbdTcp, serveImagesWithStrata } from '../testing-disks.ts';
import { qemuVmName } from './qemu-command.ts';

const requiredTools = [
  '/usr/bin/qemu-system-x86_64',
  '/usr/bin/qemu-nbd',
  '/usr/bin/mcopy',
  '/usr/bin/syslinux',
];

/** Whether something accepts a TCP connection on host:port (QEMU's hostfwd listener). */
function tcpAccepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

async function qemuProcessesOf(instanceId: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    if ((await processCommandLine(Number(pid))).includes(qemuVmName(instanceId)))
      found.push(`qemu pid ${pid}`);
  }
  return found;
}

vmDriverConformance('qemu (TCG, demo image over qemu-nbd)', async () => {
  const missing = await missingTool(requiredTools);
  if (missing !== null) return `needs QEMU, qemu-nbd and the demo image's tools: ${missing}`;
  const dir = await mkdtemp(join(tmpdir(), 'strata-qemu-'));
  const stateDir = join(dir, 'data');
  const image = join(dir, 'demo.img');
  await buildDemoImage({ output: image });
  const servers: ChildProcess[] = [];
  const served = async (serial: string, file: string, bootIndex?: number) => {
    const { disk, process } = await serveFileWithQemuNbd(
      file,
      join(dir, `${serial}.sock`),
      serial,
      bootIndex,
    );
    servers.push(process);
    return disk;
  };
  return {
    driver: createQemuDriver({ stateDir, accelerator: 'tcg' }),
    rootDisk: async (serial) => {
      const file = join(dir, `${serial}.img`);
      await copyFile(image, file); // a sparse-aware copy on Linux (copy_file_range)
      return served(serial, file, 0);
    },
    dataDisk: async (serial) => {
      // Data disks go over TCP, so both NbdEndpoint forms meet real QEMU.
      const file = join(dir, `${serial}.img`);
      await writeFile(file, '');
      await truncate(file, 64 * 1024 * 1024);
      const { disk, process } = await serveFileWithQemuNbdTcp(file, serial);
      servers.push(process);
      return disk;
    },
    brokenDisk: (serial) => ({
      serial,
      nbd: { socketPath: join(dir, 'missing.sock'), exportName: serial },
      bootIndex: 0,
    }),
    reopen: async () => createQemuDriver({ stateDir, accelerator: 'tcg' }),
    leftovers: async (instanceId) => {
      const left = await qemuProcessesOf(instanceId);
      const instanceDir = join(stateDir, 'instances', instanceId);
      if (
        await stat(instanceDir).then(
          () => true,
          () => false,
        )
      )
        left.push(`state dir ${instanceDir}`);
      return left;
    },
    forwardOpen: (_instanceId, forward) => tcpAccepts(forward.hostIp, forward.port),
    bootTimeoutMs: 60_000,
    cleanup: async () => {
      for (const server of servers) server.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
});

test('qemu boots the demo image from a Strata volume through the Strata NBD server', async (t) => {
  const missing = await missingTool(requiredTools);
  if (missing !== null) return t.skip(`needs QEMU and the demo image's tools: ${missing}`);
  const dir = await mkdtemp(join(tmpdir(), 'strata-qemu-nbd-'));
  const volumeId = 'vol-0000000000000d001';
  const instanceId = 'i-0000000000000000d';
  const driver = createQemuDriver({ stateDir: join(dir, 'data'), accelerator: 'tcg' });
  let strata: Awaited<ReturnType<typeof serveImagesWithStrata>> | null = null;
  try {
    await buildDemoImage({ output: join(dir, 'demo.img') });
    strata = await serveImagesWithStrata(dir, { [volumeId]: join(dir, 'demo.img') });
    // The real attach flow: the volume is locked to the instance, which alone gets the secret export name.
    const exportName = strata.exportNameOf(volumeId, `instance ${instanceId}`);
    const events: VmEvent[] = [];
    driver.onEvent((event) => events.push(event));
    const disk = { serial: volumeId, nbd: { socketPath: strata.socketPath, exportName }, bootIndex: 0 };
    await driver.spawn({ instanceId, vcpus: 1, memoryMiB: 256, disks: [disk] });
    const deadline = Date.now() + 60_000;
    while (!(await driver.consoleOutput(instanceId)).includes(`${BOOT_MARKER} count=1`)) {
      assert.ok(Date.now() < deadline, 'the guest printed its boot marker within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await driver.destroy(instanceId); // powering off gracefully is the conformance suite's job
    assert.deepEqual(
      events
        .filter((event) => event.kind === 'stopped')
        .map((event) => event.kind === 'stopped' && event.reason),
      ['host'],
    );
  } finally {
    await driver.destroy(instanceId);
    await driver.close();
    await strata?.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a QEMU that dies unasked is reported as crashed, and its instance cleaned up to the console log', async (t) => {
  const missing = await missingTool(requiredTools);
  if (missing !== null) return t.skip(`needs QEMU and the demo image's tools: ${missing}`);
  const dir = await mkdtemp(join(tmpdir(), 'strata-qemu-crash-'));
  const instanceId = 'i-0000000000000000e';
  const driver = createQemuDriver({ stateDir: join(dir, 'data'), accelerator: 'tcg' });
  try {
    const image = join(dir, 'root.img');
    await buildDemoImage({ output: image });
    const events: VmEvent[] = [];
    driver.onEvent((event) => events.push(event));
    const info = await driver.spawn({
      instanceId,
      vcpus: 1,
      memoryMiB: 256,
      disks: [{ serial: 'vol-0000000000000e001', file: image, bootIndex: 0 }],
    });
    assert.ok(info.pid !== null);
    process.kill(info.pid, 'SIGKILL');
    const deadline = Date.now() + 10_000;
    while (!events.some((event) => event.kind === 'stopped')) {
      assert.ok(Date.now() < deadline, 'a stopped event within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.deepEqual(
      events.map((event) => [event.kind, event.kind === 'stopped' ? event.reason : '']),
      [['stopped', 'crashed']],
    );
    assert.deepEqual(await driver.list(), []);
    assert.deepEqual(
      (await readdir(join(dir, 'data', 'instances', instanceId))).filter(
        (name) => name.endsWith('.sock') || name.endsWith('.pid'),
      ),
      [],
    );
    assert.equal(typeof (await driver.consoleOutput(instanceId)), 'string');
    await driver.destroy(instanceId);
    assert.deepEqual(await qemuProcessesOf(instanceId), []);
  } finally {
    await driver.destroy(instanceId);
    await driver.close();
    await rm(dir, { recursive: true, force: true });
  }
});
