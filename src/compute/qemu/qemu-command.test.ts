// The QEMU command line, checked without QEMU: disks in order, root boots first, serials, sockets, fw_cfg,
// the NIC on its VPC switch, SMBIOS for cloud-init, and the HMP commands that change public forwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildQemuArgs, hostForwardCommands, vmPaths } from './qemu-command.ts';
import type { PortForward, VmNic } from '../vm-driver.ts';

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
  assert.deepEqual(values(args, '-netdev'), [], 'no NIC asked for, none given');
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

const nic: VmNic = {
  mac: '02:00:00:00:00:0b',
  subnetCidr: '172.31.16.0/20',
  privateIp: '172.31.16.11',
  hostname: 'ip-172-31-16-11',
  nicSocketPath: '/run/strata/network/i-0123456789abcdef0.nic.sock',
  uplinkSocketPath: '/run/strata/network/i-0123456789abcdef0.uplink.sock',
  metadataCommand: 'socat STDIO UNIX-CONNECT:/run/strata/network/i-0123456789abcdef0.imds.sock',
  hostForwards: [{ protocol: 'tcp', hostIp: '127.100.0.7', port: 22 }],
};

test('a NIC: QEMU listens on both switch sockets; SMBIOS says Amazon EC2; user data goes by IMDS', () => {
  const args = buildQemuArgs(
    {
      instanceId: 'i-0123456789abcdef0',
      vcpus: 1,
      memoryMiB: 256,
      instanceType: 't3.micro',
      nic,
      userData: Buffer.from('#!/bin/sh\n'),
      disks: [{ serial: 'vol-1', file: '/x', bootIndex: 0 }],
    },
    { accelerator: 'tcg', paths },
  );
  const netdevs = values(args, '-netdev');
  assert.match(netdevs[0] ?? '', /^user,id=uplink0,net=172\.31\.16\.0\/20,host=172\.31\.16\.1,/);
  assert.match(netdevs[0] ?? '', /dhcpstart=172\.31\.16\.11,/);
  assert.match(netdevs[0] ?? '', /hostname=ip-172-31-16-11,/);
  assert.match(netdevs[0] ?? '', /hostfwd=tcp:127\.100\.0\.7:22-172\.31\.16\.11:22/);
  assert.deepEqual(
    netdevs.filter((netdev) => netdev.startsWith('stream,')).map((netdev) => netdev.split(',')[2]),
    ['server=on', 'server=on'],
  );
  assert.ok(values(args, '-device').includes('virtio-net-pci,netdev=nic0,mac=02:00:00:00:00:0b,romfile='));
  assert.deepEqual(values(args, '-fw_cfg'), [], 'no fw_cfg user data beside a NIC');
  assert.deepEqual(values(args, '-smbios'), [
    'type=1,manufacturer=Amazon EC2,product=t3.micro,' +
      'uuid=ec200000-0000-0000-1234-56789abcdef0,serial=ec200000-0000-0000-1234-56789abcdef0',
  ]);
});

test('public forward changes become hostfwd_remove then hostfwd_add, nothing for what stays', () => {
  const forward = (hostIp: string, port: number, protocol: PortForward['protocol'] = 'tcp'): PortForward => ({
    protocol,
    hostIp,
    port,
  });
  assert.deepEqual(
    hostForwardCommands(
      [forward('127.100.0.7', 22), forward('127.100.0.7', 80)],
      [forward('127.100.0.7', 80), forward('127.100.0.7', 53, 'udp')],
      '172.31.16.11',
    ),
    ['hostfwd_remove uplink0 tcp:127.100.0.7:22', 'hostfwd_add uplink0 udp:127.100.0.7:53-172.31.16.11:53'],
  );
  assert.deepEqual(hostForwardCommands([forward('127.100.0.7', 22)], [forward('127.100.0.7', 22)], 'x'), []);
});
