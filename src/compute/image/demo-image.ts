// Builds the demo image: a small bootable Linux disk from the host's Debian cloud kernel and busybox-static,
// with no mounts and no loop devices. Every tool writes straight into the image at a partition offset.
//   sector 0            syslinux mbr.bin + our partition table (mbr.ts)
//   partition 1 (FAT16) syslinux (ldlinux.sys/.c32), syslinux.cfg, vmlinuz, initrd (our cpio)
//   partition 2 (ext4)  busybox, /sbin/init (busybox init), rc scripts, the boot counter, and Debian's
//                       dropbear SSH server with the shared libraries ldd names
import {
  access,
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
  lutimes,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
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
  /** Debian's dropbear-bin: the SSH server and its key generator, copied with their libraries. */
  readonly dropbearPath: string;
  readonly dropbearkeyPath: string;
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
/** Every timestamp in the image (2026-01-01), so two builds from the same inputs are byte-identical. */
const BUILD_EPOCH_SECONDS = 1767225600;
const TOOL_ENV = {
  ...process.env,
  SOURCE_DATE_EPOCH: String(BUILD_EPOCH_SECONDS),
  E2FSPROGS_FAKE_TIME: String(BUILD_EPOCH_SECONDS),
};

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
    dropbearPath: await present('/usr/sbin/dropbear', 'apt-get install dropbear-bin'),
    dropbearkeyPath: await present('/usr/bin/dropbearkey', 'apt-get install dropbear-bin'),
  };
}

async function present(path: string, remedy: string): Promise<string> {
  await access(path).catch(() => {
    throw new Error(`no ${path}: ${remedy}`);
  });
  return path;
}

/** The shared libraries and loader `ldd` names for `binaries`, as absolute paths, each once, sorted. */
export async function sharedLibraries(binaries: readonly string[]): Promise<string[]> {
  const found = new Set<string>();
  for (const binary of binaries) {
    for (const line of (await runTool('ldd', [binary])).split('\n')) {
      const path = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)?.[1];
      if (path !== undefined) found.add(path);
    }
  }
  return [...found].sort();
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
  await runTool(
    'mkfs.fat',
    [
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
    ],
    { env: TOOL_ENV },
  );
  const cfg = join(work, 'syslinux.cfg');
  const initrd = join(work, 'initrd');
  await writeFile(cfg, guest.SYSLINUX_CFG);
  await writeFile(initrd, await buildInitrd(sources));
  const mtoolsImage = `${output}@@${offsetBytes}`;
  const kernel = join(work, 'vmlinuz');
  await copyFile(sources.kernelPath, kernel);
  // -m keeps the source files' (fixed) mtimes; SOURCE_DATE_EPOCH fixes the rest (mtools >= 4.0.30).
  await setTimes([cfg, initrd, kernel]);
  await runTool('mcopy', ['-m', '-i', mtoolsImage, cfg, kernel, initrd, '::/'], { env: TOOL_ENV });
  await runTool('syslinux', ['--install', '--offset', String(offsetBytes), output], { env: TOOL_ENV });
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
    { env: TOOL_ENV },
  );
  // mke2fs -d copies each file's ctime and owner, which the host may not set; fix them in the image instead.
  const ext4 = `${output}?offset=${startSector * SECTOR_BYTES}`;
  const paths = ['/', ...(await readdir(root, { recursive: true })).map((entry) => `/${entry}`)];
  // Every file is root's, whoever built the image: dropbear refuses keys under a home another user owns.
  const commands = paths
    .flatMap((path) => [
      `set_inode_field "${path}" ctime @${BUILD_EPOCH_SECONDS}`,
      `set_inode_field "${path}" uid 0`,
      `set_inode_field "${path}" gid 0`,
    ])
    .join('\n');
  await writeFile(join(work, 'ctime.debugfs'), `${commands}\n`);
  await runTool('debugfs', ['-w', '-f', join(work, 'ctime.debugfs'), ext4], { env: TOOL_ENV });
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
  await stageDropbear(root, sources);
  const files: [string, string, number][] = [
    ['etc/inittab', guest.INITTAB, 0o644],
    ['etc/init.d/rcS', guest.RC_S, 0o755],
    ['etc/init.d/rcK', guest.RC_K, 0o755],
    ['usr/sbin/strata-disks', guest.STRATA_DISKS, 0o755],
    ['usr/sbin/strata-net', guest.STRATA_NET, 0o755],
    ['usr/bin/strata-imds', guest.STRATA_IMDS, 0o755],
    ['usr/sbin/strata-dhcp', guest.DHCP_EVENT, 0o755],
    ['etc/shells', '/bin/sh\n', 0o644],
    ['etc/acpi/PWRF/00000080', guest.POWER_BUTTON, 0o755],
    ['etc/hostname', 'strata-demo\n', 0o644],
    ['etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n', 0o644],
    ['etc/group', 'root:x:0:\n', 0o644],
  ];
  for (const [path, text, mode] of files) {
    await writeFile(join(root, path), text, { mode });
    await chmod(join(root, path), mode);
  }
  // mke2fs -d copies mtimes; fixed ones make the root partition the same on every build.
  const entries = await readdir(root, { recursive: true });
  await setTimes(entries.map((entry) => join(root, entry)).sort((a, b) => b.length - a.length));
  await setTimes([root]);
}

// dropbear and dropbearkey at their Debian paths, with every library they load at the same path.
async function stageDropbear(root: string, sources: DemoImageSources): Promise<void> {
  const binaries = [sources.dropbearPath, sources.dropbearkeyPath];
  for (const path of [...binaries, ...(await sharedLibraries(binaries))]) {
    await mkdir(join(root, dirname(path)), { recursive: true });
    await copyFile(path, join(root, path));
    await chmod(join(root, path), 0o755);
  }
}

async function setTimes(paths: readonly string[]): Promise<void> {
  for (const path of paths) await lutimes(path, BUILD_EPOCH_SECONDS, BUILD_EPOCH_SECONDS);
}
