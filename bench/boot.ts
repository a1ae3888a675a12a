// Boot benchmark, run by hand: `npx tsx bench/boot.ts [--runs N] [--parallel N] [--accel tcg|kvm|auto]`.
// Time from spawn() to the demo guest's boot marker on the console, for the root disk served
//   - from a local raw file (the floor: QEMU reads the file directly),
//   - over NBD by qemu-nbd, and over NBD by Strata's own server and block store,
// and for N VMs launched at once (over Strata NBD). Target: NBD / floor <= 1.15.
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { buildDemoImage } from '../src/compute/image/demo-image.ts';
import { BOOT_MARKER } from '../src/compute/image/guest-files.ts';
import { createQemuDriver } from '../src/compute/qemu/qemu-driver.ts';
import { serveFileWithQemuNbd, serveImagesWithStrata } from '../src/compute/testing-disks.ts';
import type { DiskSpec, VmDriver } from '../src/compute/vm-driver.ts';

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}

const runs = Number(option('runs', '3'));
const parallel = Number(option('parallel', '5'));
const accelerator = option('accel', 'tcg') as 'tcg' | 'kvm' | 'auto';
const dir = await mkdtemp(join(tmpdir(), 'strata-bench-'));
const image = join(dir, 'demo.img');
const driver: VmDriver = createQemuDriver({ stateDir: join(dir, 'data'), accelerator });
const children: ChildProcess[] = [];
let counter = 0;

/** Spawns with `disk` as root and resolves with ms until the boot marker shows. */
async function bootOnce(disk: DiskSpec): Promise<number> {
  const instanceId = `i-${(++counter).toString(16).padStart(17, '0')}`;
  const started = performance.now();
  await driver.spawn({ instanceId, vcpus: 1, memoryMiB: 256, disks: [disk] });
  try {
    while (!(await driver.consoleOutput(instanceId)).includes(BOOT_MARKER)) {
      if (performance.now() - started > 300_000) throw new Error(`${instanceId} did not boot in 300 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return performance.now() - started;
  } finally {
    await driver.destroy(instanceId);
  }
}

async function fileDisk(serial: string): Promise<DiskSpec> {
  const file = join(dir, `${serial}.img`);
  await copyFile(image, file);
  return { serial, file, bootIndex: 0 };
}

async function qemuNbdDisk(serial: string): Promise<DiskSpec> {
  const file = join(dir, `${serial}.img`);
  await copyFile(image, file);
  const served = await serveFileWithQemuNbd(file, join(dir, `${serial}.sock`), serial, 0);
  children.push(served.process);
  return served.disk;
}

const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

try {
  await buildDemoImage({ output: image });
  const capabilities = await driver.capabilities();
  console.log(`accelerator: ${capabilities.kvm ? 'kvm' : 'tcg'}, runs: ${runs}, parallel: ${parallel}`);
  const volumes = Array.from(
    { length: runs + parallel },
    (_, index) => `vol-${(0xb000 + index).toString(16).padStart(17, '0')}`,
  );
  const strata = await serveImagesWithStrata(
    dir,
    Object.fromEntries(volumes.map((volume) => [volume, image])),
  );
  const strataDisk = (volume: string, owner: string): DiskSpec => ({
    serial: volume,
    nbd: { socketPath: strata.socketPath, exportName: strata.exportNameOf(volume, owner) },
    bootIndex: 0,
  });
  const results: Record<string, number[]> = { 'local file (floor)': [], 'qemu-nbd': [], 'strata nbd': [] };
  for (let run = 0; run < runs; run++) {
    results['local file (floor)']!.push(await bootOnce(await fileDisk(`vol-f${run}`)));
    results['qemu-nbd']!.push(await bootOnce(await qemuNbdDisk(`vol-q${run}`)));
    results['strata nbd']!.push(await bootOnce(strataDisk(volumes[run]!, `bench run ${run}`)));
  }
  const floor = median(results['local file (floor)']!);
  for (const [name, times] of Object.entries(results)) {
    const ms = median(times);
    console.log(
      `${name.padEnd(20)} median ${ms.toFixed(0)} ms  ratio ${(ms / floor).toFixed(2)}  runs ${times.map((t) => t.toFixed(0)).join(' ')}`,
    );
  }
  const started = performance.now();
  const together = await Promise.all(
    volumes.slice(runs).map((volume, index) => bootOnce(strataDisk(volume, `bench parallel ${index}`))),
  );
  const wall = performance.now() - started;
  console.log(
    `${parallel} VMs at once (strata nbd): all booted in ${wall.toFixed(0)} ms; each ${together.map((t) => t.toFixed(0)).join(' ')} ms`,
  );
  await strata.close();
} finally {
  await driver.close();
  for (const child of children) child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
}
