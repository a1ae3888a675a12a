// What QEMU's block layer does while the demo guest boots, run by hand:
// `npx tsx bench/boot-blockstats.ts [--variant NAME]…` (default: every variant).
// Boots the demo image once per variant with our own QMP session (the driver keeps its own to itself), and at
// the boot marker prints `query-blockstats` of the root disk: read/write/flush operations, bytes, mean
// request size and QEMU's total time in reads. Request counts are deterministic where times on a loaded host
// are not, so this says where NBD's per-request latency goes and what an option changes.
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDemoImage } from '../src/compute/image/demo-image.ts';
import { BOOT_MARKER } from '../src/compute/image/guest-files.ts';
import { blockdevOptions, deviceOptions } from '../src/compute/qemu/qemu-command.ts';
import { QmpClient } from '../src/compute/qemu/qmp-client.ts';
import { serveImagesWithStrata } from '../src/compute/testing-disks.ts';
import type { DiskSpec } from '../src/compute/vm-driver.ts';

/** One way to attach the root disk: the blockdev object QEMU gets (extra options merged in). */
interface Variant {
  readonly name: string;
  readonly disk: (volume: string) => DiskSpec;
  readonly extra?: Record<string, unknown>;
}

interface Stats {
  rd_operations: number;
  rd_bytes: number;
  wr_operations: number;
  wr_bytes: number;
  flush_operations: number;
  rd_total_time_ns: number;
}

const dir = await mkdtemp(join(tmpdir(), 'strata-blockstats-'));
const image = join(dir, 'demo.img');
const wanted = process.argv.flatMap((arg, i) => (process.argv[i - 1] === '--variant' ? [arg] : []));

async function bootWithStats(variant: Variant, volume: string): Promise<void> {
  const qmpPath = join(dir, `${volume}.qmp`);
  const consolePath = join(dir, `${volume}.console`);
  const disk = variant.disk(volume);
  const blockdev = { ...blockdevOptions(disk), ...variant.extra };
  const args = [
    ...['-nodefaults', '-no-user-config', '-display', 'none', '-machine', 'pc', '-accel', 'tcg'],
    ...['-m', '256M', '-qmp', `unix:${qmpPath},server=on,wait=off`, '-serial', `file:${consolePath}`],
    ...['-blockdev', JSON.stringify(blockdev), '-device', JSON.stringify(deviceOptions(disk))],
  ];
  const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const started = performance.now();
  try {
    let qmp: QmpClient | null = null;
    while (qmp === null) {
      qmp = await QmpClient.connect(qmpPath, 1_000).catch(() => null);
      if (qmp === null) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    while (!(await readFile(consolePath, 'utf8').catch(() => '')).includes(BOOT_MARKER)) {
      if (performance.now() - started > 300_000) throw new Error(`${variant.name}: no marker in 300 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const ms = performance.now() - started;
    // Accounting lives on the device's BlockBackend, not on the nodes.
    const all = await qmp.execute<{ stats: Stats; qdev?: string }[]>('query-blockstats');
    const stats = all.find((entry) => entry.qdev?.includes(`disk-${volume}`) === true)?.stats;
    if (stats === undefined) throw new Error(`${variant.name}: no blockstats for disk-${volume}`);
    const meanKiB = stats.rd_bytes / Math.max(1, stats.rd_operations) / 1024;
    console.log(
      `${variant.name.padEnd(28)} boot ${ms.toFixed(0).padStart(6)} ms  reads ${stats.rd_operations} ` +
        `(${(stats.rd_bytes / 2 ** 20).toFixed(1)} MiB, mean ${meanKiB.toFixed(1)} KiB, ` +
        `${(stats.rd_total_time_ns / 1e6).toFixed(0)} ms in reads)  writes ${stats.wr_operations} ` +
        `(${(stats.wr_bytes / 1024).toFixed(0)} KiB)  flushes ${stats.flush_operations}`,
    );
    await qmp.execute('quit').catch(() => undefined);
    await qmp.close();
  } finally {
    qemu.kill('SIGKILL');
  }
}

try {
  await buildDemoImage({ output: image });
  const volumes = Array.from({ length: 8 }, (_, i) => `vol-${(0xc000 + i).toString(16).padStart(17, '0')}`);
  const strata = await serveImagesWithStrata(dir, Object.fromEntries(volumes.map((v) => [v, image])));
  const nbd = (volume: string): DiskSpec => ({
    serial: volume,
    nbd: { socketPath: strata.socketPath, exportName: strata.exportNameOf(volume, 'blockstats') },
    bootIndex: 0,
  });
  const file = (volume: string): DiskSpec => ({
    serial: volume,
    file: join(dir, `${volume}.img`),
    bootIndex: 0,
  });
  const variants: Variant[] = [
    { name: 'local file', disk: file },
    { name: 'strata nbd', disk: nbd },
    { name: 'strata nbd, detect-zeroes', disk: nbd, extra: { 'detect-zeroes': 'unmap', discard: 'unmap' } },
    { name: 'strata nbd, no reconnect', disk: nbd, extra: { 'reconnect-delay': 0 } },
    // The first NBD boot of a process also pays the server's warm-up (JIT, first reads): boot it again.
    { name: 'strata nbd, again', disk: nbd },
  ].filter((variant) => wanted.length === 0 || wanted.includes(variant.name));
  for (const [index, variant] of variants.entries()) {
    const volume = volumes[index]!;
    await copyFile(image, join(dir, `${volume}.img`));
    await bootWithStats(variant, volume);
  }
  await strata.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
