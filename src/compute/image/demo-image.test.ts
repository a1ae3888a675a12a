// The demo image's layout, checked with the tools a user would use (mtools, e2fsck, debugfs, cpio). Booting it
// is covered by qemu/qemu-driver.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTool } from '../run-tool.ts';
import { buildInitrd, DEMO_LAYOUT, findDemoImageSources } from './demo-image.ts';
import { readMbrPartitions, SECTOR_BYTES } from './mbr.ts';
import { BOOT_MARKER, INITRD_MODULES } from './guest-files.ts';

const skipReason = await findDemoImageSources().then(
  () => null,
  (error: Error) => `needs the host kernel and busybox: ${error.message}`,
);

test(
  'strata image demo builds a sparse 1 GiB MBR disk: FAT boot partition with syslinux, ext4 root',
  { skip: skipReason ?? false },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-demo-image-'));
    try {
      const output = join(dir, 'demo.img');
      await runTool(process.execPath, [
        '--import',
        'tsx',
        'src/cli/strata.ts',
        'image',
        'demo',
        '--output',
        output,
      ]);
      const info = await stat(output);
      assert.equal(info.size, 1024 ** 3, 'a whole GiB');
      assert.ok(info.blocks * 512 < 128 * 1024 ** 2, `sparse: ${info.blocks * 512} bytes allocated`);
      const handle = await open(output, 'r');
      const sector = Buffer.alloc(SECTOR_BYTES);
      await handle.read(sector, 0, SECTOR_BYTES, 0);
      await handle.close();
      const [boot, root, ...rest] = readMbrPartitions(sector);
      assert.deepEqual(rest, []);
      assert.deepEqual(boot, {
        bootable: true,
        type: 0x06,
        startSector: DEMO_LAYOUT.bootStartSector,
        sectorCount: DEMO_LAYOUT.bootSectorCount,
      });
      assert.equal(root?.startSector, DEMO_LAYOUT.bootStartSector + DEMO_LAYOUT.bootSectorCount);
      assert.equal(
        (root?.startSector ?? 0) + (root?.sectorCount ?? 0),
        info.size / SECTOR_BYTES,
        'root runs to the end',
      );
      const fat = `${output}@@${DEMO_LAYOUT.bootStartSector * SECTOR_BYTES}`;
      const listing = (await runTool('mdir', ['-a', '-b', '-i', fat, '::/'])).toLowerCase();
      for (const file of ['ldlinux.sys', 'ldlinux.c32', 'syslinux.cfg', 'vmlinuz', 'initrd'])
        assert.match(listing, new RegExp(file.replace('.', '\\.')));
      assert.match(await runTool('mtype', ['-i', fat, '::/syslinux.cfg']), /KERNEL \/vmlinuz/);
      const ext4 = `${output}?offset=${(root?.startSector ?? 0) * SECTOR_BYTES}`;
      await runTool('e2fsck', ['-fn', ext4]);
      const rcS = await runTool('debugfs', ['-R', 'cat /etc/init.d/rcS', ext4]);
      assert.ok(rcS.includes(BOOT_MARKER), 'the root carries the boot script');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  'the initrd is a newc cpio with busybox, /init and the virtio modules',
  { skip: skipReason ?? false },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-initrd-'));
    try {
      const archive = join(dir, 'initrd');
      await writeFile(archive, await buildInitrd(await findDemoImageSources()));
      const names = (await runTool('sh', ['-c', `cpio -t --quiet < ${archive}`])).split('\n').filter(Boolean);
      assert.ok(names.includes('init') && names.includes('bin/busybox'));
      for (const module of INITRD_MODULES)
        assert.ok(names.includes(`lib/modules/${module.split('/').pop()}`), module);
      const init = await runTool('sh', ['-c', `cd ${dir} && cpio -i --quiet --to-stdout init < ${archive}`]);
      assert.equal(init, (await import('./guest-files.ts')).INITRD_INIT);
      assert.ok((await readFile(archive)).length % 4 === 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
