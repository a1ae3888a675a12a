// Builds the demo image: a small bootable Linux disk from the host's Debian cloud kernel and busybox-static,
// with no mounts and no loop devices. Every tool writes straight into the image at a partition offset.
//   sector 0            syslinux mbr.bin + our partition table (mbr.ts)
//   partition 1 (FAT16) syslinux (ldlinux.sys/.c32), syslinux.cfg, vmlinuz, initrd (our cpio)
//   partition 2 (ext4)  busybox, /sbin/init (busybox init), rc scripts, the boot counter
import {
  copyFile,
  mkdir,
  mkdtemp,
  open,
  readFile,
  readdir,
  rm,
  symlink,
  writeFile,
  chmod,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assert } from '../../base/assert.ts';
import { units } from '../../base/limits.ts';
import { runTool } from '../run-tool.ts';
import { cpioNewc, type CpioEntry } from './cpio.ts';
import { mbrSector, SECTOR_BYTES } from './mbr.ts';
import * as guest from './guest-files.ts';

/** Where the demo image's inputs live on the host. */
export interface DemoImageSources {
  readonly kernelPath: string;
  readonly modulesDir: string;
  readonly busyboxPath: string;
  readonly syslinuxMbrPath: string;
}

/** Options of buildDemoImage; sources default to findDemoImageSources(). */
export interface DemoImageOptions {
  readonly output: string;
  /** Whole GiB, as EBS sizes are; the file stays sparse. Default 1. */
  readonly sizeGiB?: number;
  readonly sources?: DemoImageSources;
}

/** Where each partition starts and how long it is, in sectors. */
export const DEMO_LAYOUT = {
  bootStartSector: 2048,
  bootSectorCount: (64 * units.MiB) / SECTOR_BYTES,
} as const;

const FAT_VOLUME_ID = '5a7a0001';
const ROOT_UUID = '5a7a0000-0000-4000-8000-000000000001';
const DISK_SIGNATURE = 0x5a7a0001;

/** Finds the newest cloud kernel in /boot with its modules, busybox and syslinux's MBR; throws naming what is missing. */
export async function findDemoImageSources(): Promise<DemoImageSources> {
  const kernels = (await readdir('/boot')).filter((name) => /^vmlinuz-.*-cloud-amd64$/.test(name)).sort();
  const kernel = kernels.at(-1);
  if (kernel === undefined)
    throw new Error('no /boot/vmlinuz-*-cloud-amd64: apt-get install linux-image-cloud-amd64');
  return {
    kernelPath: join('/boot', kernel),
    modulesDir: join('/lib/modules', kernel.slice('vmlinuz-'.length)),
    busyboxPath: '/bin/busybox',
    syslinuxMbrPath: '/usr/lib/syslinux/mbr/mbr.bin',
  };
}

/** Builds the raw demo image at `output` (overwritten). Takes a few seconds. */
export async function buildDemoImage(options: DemoImageOptions): Promise<{ sizeBytes: number }> {
  const sizeGiB = options.sizeGiB ?? 1;
  assert(Number.isInteger(sizeGiB) && sizeGiB >= 1, 'image size is a whole number of GiB');
  const sources = options.sources ?? (await findDemoImageSources());
  const sizeBytes = sizeGiB * units.GiB;
  const totalSectors = sizeBytes / SECTOR_BYTES;
  const rootStartSector = DEMO_LAYOUT.bootStartSector + DEMO_LAYOUT.bootSectorCount;
  const rootSectorCount = totalSectors - rootStartSector;
  const work = await mkdtemp(join(tmpdir(), 'strata-image-'));
  try {
    const image = await open(options.output, 'w');
    try {
      await image.truncate(sizeBytes);
      const bootCode = await readFile(sources.syslinuxMbrPath);
      const mbr = mbrSector(bootCode.subarray(0, 440), DISK_SIGNATURE, [
        {
          startSector: DEMO_LAYOUT.bootStartSector,
          sectorCount: DEMO_LAYOUT.bootSectorCount,
          type: 0x06,
          bootable: true,
        },
        { startSector: rootStartSector, sectorCount: rootSectorCount, type: 0x83, bootable: false },
      ]);
      await image.write(mbr, 0, mbr.length, 0);
    } finally {
      await image.close();
    }
    await buildBootPartition(options.output, sources, work);
    await buildRootPartition(options.output, sources, work, rootStartSector, rootSectorCount);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { sizeBytes };
}

async function buildBootPartition(output: string, sources: DemoImageSources, work: string): Promise<void> {
  const offsetBytes = DEMO_LAYOUT.bootStartSector * SECTOR_BYTES;
  const sizeKiB = (DEMO_LAYOUT.bootSectorCount * SECTOR_BYTES) / units.KiB;
  const start = String(DEMO_LAYOUT.bootStartSector);
  await runTool('mkfs.fat', [
    '-F',
    '16',
    '-n',
    'STRATABOOT',
    '-i',
    FAT_VOLUME_ID,
    '-h',
    start,
    '--offset',
    start,
    output,
    String(sizeKiB),
  ]);
  const cfg = join(work, 'syslinux.cfg');
  const initrd = join(work, 'initrd');
  await writeFile(cfg, guest.SYSLINUX_CFG);
  await writeFile(initrd, await buildInitrd(sources));
  const mtoolsImage = `${output}@@${offsetBytes}`;
  // SOURCE_DATE_EPOCH-like determinism for FAT timestamps is not offered by mtools; content is what matters.
  await runTool('mcopy', ['-i', mtoolsImage, cfg, sources.kernelPath, '::/'], {
    env: { ...process.env, MTOOLS_SKIP_CHECK: '1' },
  });
  await runTool('mmove', ['-i', mtoolsImage, `::/${sources.kernelPath.split('/').pop()}`, '::/vmlinuz']);
  await runTool('mcopy', ['-i', mtoolsImage, initrd, '::/initrd']);
  await runTool('syslinux', ['--install', '--offset', String(offsetBytes), output]);
}

/** The initramfs: busybox, our /init and the few modules needed to reach the root volume. */
export async function buildInitrd(sources: DemoImageSources): Promise<Buffer> {
  const entries: CpioEntry[] = [
    { kind: 'dir', path: 'bin' },
    { kind: 'dir', path: 'lib' },
    { kind: 'dir', path: 'lib/modules' },
    { kind: 'file', path: 'bin/busybox', data: await readFile(sources.busyboxPath), mode: 0o755 },
    { kind: 'file', path: 'init', data: Buffer.from(guest.INITRD_INIT), mode: 0o755 },
  ];
  for (const module of guest.INITRD_MODULES) {
    const data = await readFile(join(sources.modulesDir, module));
    entries.push({ kind: 'file', path: `lib/modules/${module.split('/').pop()}`, data });
  }
  return cpioNewc(entries);
}

async function buildRootPartition(
  output: string,
  sources: DemoImageSources,
  work: string,
  startSector: number,
  sectorCount: number,
): Promise<void> {
  const root = join(work, 'root');
  await stageRootTree(root, sources);
  const blockBytes = 4096;
  const blocks = Math.floor((sectorCount * SECTOR_BYTES) / blockBytes);
  const extended = [
    `offset=${startSector * SECTOR_BYTES}`,
    'root_owner=0:0',
    `hash_seed=${ROOT_UUID}`,
    'nodiscard',
  ];
  await runTool(
    'mke2fs',
    [
      '-q',
      '-F',
      '-t',
      'ext4',
      '-b',
      String(blockBytes),
      '-L',
      guest.ROOT_LABEL,
      '-U',
      ROOT_UUID,
      '-E',
      extended.join(','),
      '-d',
      root,
      output,
      String(blocks),
    ],
    { env: { ...process.env, E2FSPROGS_FAKE_TIME: '1767225600' } },
  );
}

async function stageRootTree(root: string, sources: DemoImageSources): Promise<void> {
  for (const dir of [
    'bin',
    'sbin',
    'usr/bin',
    'usr/sbin',
    'etc/init.d',
    'etc/acpi/PWRF',
    'proc',
    'sys',
    'dev',
    'run',
    'tmp',
    'var/lib/strata',
    'var/log',
    'root',
  ]) {
    await mkdir(join(root, dir), { recursive: true });
  }
  await copyFile(sources.busyboxPath, join(root, 'bin/busybox'));
  await chmod(join(root, 'bin/busybox'), 0o755);
  const applets = (await runTool(sources.busyboxPath, ['--list-full']))
    .split('\n')
    .filter((line) => line !== '');
  for (const applet of applets) {
    if (applet === 'bin/busybox') continue;
    await symlink('/bin/busybox', join(root, applet)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
  const files: [string, string, number][] = [
    ['etc/inittab', guest.INITTAB, 0o644],
    ['etc/init.d/rcS', guest.RC_S, 0o755],
    ['etc/init.d/rcK', guest.RC_K, 0o755],
    ['usr/sbin/strata-disks', guest.STRATA_DISKS, 0o755],
    ['etc/acpi/PWRF/00000080', guest.POWER_BUTTON, 0o755],
    ['etc/hostname', 'strata-demo\n', 0o644],
    ['etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n', 0o644],
    ['etc/group', 'root:x:0:\n', 0o644],
  ];
  for (const [path, text, mode] of files) {
    await writeFile(join(root, path), text, { mode });
    await chmod(join(root, path), mode);
  }
}
