// The QEMU command line, checked without QEMU: disks in order, root boots first, serials, sockets, fw_cfg.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildQemuArgs, vmPaths } from './qemu-command.ts';

const paths = vmPaths('/var/lib/strata/instances/i-0123456789abcdef0');

function values(args: string[], flag: string): string[] {
  return args.flatMap((arg, index) => (arg === flag ? [args[index + 1] ?? ''] : []));
}

test('root disk first with bootindex 0, each disk virtio-blk over NBD with the volume id as serial', () => {
  const args = buildQemuArgs(
    {
      instanceId: 'i-0123456789abcdef0',
      vcpus: 2,
      memoryMiB: 512,
      sshHostPort: 22022,
      userData: Buffer.from('#!/bin/sh\n'),
      disks: [
        {
          serial: 'vol-0000000000000000a',
          nbd: { socketPath: '/run/strata/nbd.sock', exportName: 'vol-0000000000000000a' },
          bootIndex: 0,
        },
        {
          serial: 'vol-0000000000000000b',
          nbd: { host: '127.0.0.1', port: 10809, exportName: 'vol-0000000000000000b' },
          readOnly: true,
        },
        { serial: 'vol-0000000000000000c', file: '/scratch/ephemeral0.img' },
        { serial: 'ami-0000000000000000d', file: '/scratch/root.qcow2', format: 'qcow2' },
      ],
    },
    { accelerator: 'tcg', paths },
  );
  const blockdevs = values(args, '-blockdev').map((text) => JSON.parse(text) as Record<string, unknown>);
  const devices = values(args, '-device')
    .filter((text) => text.startsWith('{'))
    .map((text) => JSON.parse(text) as Record<string, unknown>);
  assert.deepEqual(blockdevs[0]?.server, { type: 'unix', path: '/run/strata/nbd.sock' });
  assert.deepEqual(blockdevs[1]?.server, { type: 'inet', host: '127.0.0.1', port: '10809' });
  assert.equal(blockdevs[1]?.['read-only'], true);
  assert.deepEqual(blockdevs[2]?.file, { driver: 'file', filename: '/scratch/ephemeral0.img' });
  assert.deepEqual(
    blockdevs.slice(2).map((blockdev) => blockdev.driver),
    ['raw', 'qcow2'],
    'instance-store roots are qcow2 overlays',
  );
  assert.deepEqual(
    devices.map((device) => [device.driver, device.serial, device.bootindex]),
    [
      ['virtio-blk-pci', 'vol0000000000000000a', 0],
      ['virtio-blk-pci', 'vol0000000000000000b', undefined],
      ['virtio-blk-pci', 'vol0000000000000000c', undefined],
      ['virtio-blk-pci', 'ami0000000000000000d', undefined],
    ],
  );
  assert.deepEqual(values(args, '-accel'), ['tcg']);
  assert.ok(args.includes('-S'), 'starts paused until the console is connected');
  assert.deepEqual(values(args, '-qmp'), [`unix:${paths.qmpSocket},server=on,wait=off`]);
  assert.ok(values(args, '-netdev')[0]?.includes('hostfwd=tcp:127.0.0.1:22022-:22'));
  assert.deepEqual(values(args, '-fw_cfg'), [`name=opt/strata/user-data,file=${paths.userData}`]);
  assert.deepEqual(values(args, '-m'), ['512M']);
});

test('a state dir too long for a unix socket path is refused before QEMU runs', () => {
  const longPaths = vmPaths(`/tmp/${'x'.repeat(120)}/i-0123456789abcdef0`);
  const spec = {
    instanceId: 'i-0123456789abcdef0',
    vcpus: 1,
    memoryMiB: 256,
    disks: [{ serial: 'vol-1', file: '/x', bootIndex: 0 }],
  };
  assert.throws(() => buildQemuArgs(spec, { accelerator: 'tcg', paths: longPaths }), /socket path too long/);
});
