// Issue #5 end to end on one daemon: a golden image written over NBD, snapshotted and cloned 20 times through
// the EC2 API (AWS SDK), each clone read and written over NBD; deleting origins and snapshots in any order;
// snapshots of clones of clones. Data is checked with real NBD clients (nbdcopy, qemu-img, qemu-io).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateVolumeCommand,
  DeleteSnapshotCommand,
  DeleteVolumeCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  DescribeVolumesModificationsCommand,
  ModifyVolumeCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { startTestDaemon, type TestDaemon } from '../../testing/test-daemon.ts';
import { createSnapshot, createVolume, nbdRead, qemuIo, run, waitAvailable } from './ebs-data-helpers.ts';
import { expectEc2Error } from './ebs-test-helpers.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
let strata: TestDaemon;
let ec2: EC2Client;
let work: string;

before(async () => {
  strata = await startTestDaemon();
  ec2 = strata.ec2();
  work = mkdtempSync(join(tmpdir(), 'strata-golden-'));
});
after(async () => {
  await strata.close();
  rmSync(work, { recursive: true, force: true });
});

const uri = (id: string): string => strata.cloud.nbd.uri(id);

/** Writes `data` at offset 0 of a volume with nbdcopy (a file as the source, as a user restores an image). */
async function nbdcopyIn(volumeId: string, data: Buffer): Promise<void> {
  const file = join(work, `${volumeId}.in`);
  writeFileSync(file, data);
  await run('nbdcopy', [file, uri(volumeId)]);
  rmSync(file);
}

async function inBatches<T>(
  items: readonly T[],
  size: number,
  each: (item: T) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(each));
}

test('golden image: 20 clones read the golden data over NBD, writes stay private, no data is copied', async () => {
  const golden = randomBytes(4 * MiB);
  const origin = await createVolume(ec2);
  await nbdcopyIn(origin, golden);
  await qemuIo(uri(origin), ['write -P 0x5a 512M 1M']);
  const snap = await createSnapshot(ec2, origin);
  const store = strata.cloud.store;
  const usedBefore = store.usage().usedBytes;

  const created = await Promise.all(
    Array.from({ length: 20 }, () =>
      ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', SnapshotId: snap })),
    ),
  );
  const clones = created.map((c) => c.VolumeId ?? assert.fail('no VolumeId'));
  await waitAvailable(ec2, clones);
  assert.equal(store.usage().usedBytes, usedBefore, 'creating 20 clones allocates no pool extents');
  for (const clone of clones) {
    const usage = store.deviceUsage(clone);
    assert.equal(usage.ownedBytes, 0, `${clone} owns nothing yet`);
    assert.ok(usage.mappedBytes >= golden.length + MiB, `${clone} maps the golden data`);
  }
  await inBatches(clones, 4, async (clone) => {
    assert.ok((await nbdRead(uri(clone), 0, golden.length)).equals(golden), `${clone} reads the golden data`);
    await qemuIo(uri(clone), ['read -P 0x5a 512M 1M']);
  });

  // Each clone overwrites 64 KiB inside the golden data with its own byte.
  const mine = (i: number): string => `0x${(0x10 + i).toString(16)}`;
  await inBatches(clones, 4, (clone) =>
    qemuIo(uri(clone), [`write -P ${mine(clones.indexOf(clone))} 1M 64k`]),
  );
  await inBatches(clones, 4, async (clone) => {
    const i = clones.indexOf(clone);
    const expected = Buffer.from(golden);
    expected.fill(0x10 + i, MiB, MiB + 64 * KiB);
    assert.ok((await nbdRead(uri(clone), 0, golden.length)).equals(expected), `${clone} sees only its write`);
  });
  assert.ok((await nbdRead(uri(snap), 0, golden.length)).equals(golden), 'the snapshot is unchanged');
  assert.ok((await nbdRead(uri(origin), 0, golden.length)).equals(golden), 'the origin is unchanged');
  const grown = store.usage().usedBytes - usedBefore;
  assert.ok(grown > 0 && grown <= 20 * 64 * KiB, `20 private 64 KiB writes allocate ${grown} bytes`);
  for (const clone of clones) assert.ok(store.deviceUsage(clone).ownedBytes <= 64 * KiB);
  await Promise.all(clones.map((id) => ec2.send(new DeleteVolumeCommand({ VolumeId: id }))));
});

test('delete the origin, then clone its snapshots; delete snapshots and volumes in mixed orders', async () => {
  const first = randomBytes(MiB);
  const second = randomBytes(MiB);
  const origin = await createVolume(ec2);
  await nbdcopyIn(origin, first);
  const s1 = await createSnapshot(ec2, origin);
  await qemuIo(uri(origin), ['write -P 0x77 0 512k']);
  const s2 = await createSnapshot(ec2, origin);
  await ec2.send(new DeleteVolumeCommand({ VolumeId: origin }));

  const fromS1 = await createVolume(ec2, { SnapshotId: s1 });
  const fromS2 = await createVolume(ec2, { SnapshotId: s2 });
  assert.ok(
    (await nbdRead(uri(fromS1), 0, MiB)).equals(first),
    'the clone of s1 reads s1 after the origin is gone',
  );
  const expectedS2 = Buffer.concat([Buffer.alloc(512 * KiB, 0x77), first.subarray(512 * KiB)]);
  assert.ok((await nbdRead(uri(fromS2), 0, MiB)).equals(expectedS2), 'the clone of s2 reads s2');

  // Snapshot deleted before its clone; the clone keeps its data and can be snapshotted and cloned again.
  await ec2.send(new DeleteSnapshotCommand({ SnapshotId: s1 }));
  await nbdcopyIn(fromS2, second);
  const s3 = await createSnapshot(ec2, fromS2);
  await ec2.send(new DeleteVolumeCommand({ VolumeId: fromS2 }));
  await ec2.send(new DeleteSnapshotCommand({ SnapshotId: s2 }));
  const fromS3 = await createVolume(ec2, { SnapshotId: s3 });
  assert.ok(
    (await nbdRead(uri(fromS3), 0, MiB)).equals(second),
    'the clone of s3 survives s2 and its volume',
  );
  assert.ok((await nbdRead(uri(fromS1), 0, MiB)).equals(first), 'the clone of s1 survives s1');
  const remaining = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [s3] }));
  assert.equal(remaining.Snapshots?.[0]?.State, 'completed');

  // Tear the rest down volume-first and snapshot-first; every device leaves the store.
  await ec2.send(new DeleteSnapshotCommand({ SnapshotId: s3 }));
  await ec2.send(new DeleteVolumeCommand({ VolumeId: fromS3 }));
  await ec2.send(new DeleteVolumeCommand({ VolumeId: fromS1 }));
  for (const id of [origin, fromS1, fromS2, fromS3, s1, s2, s3])
    assert.equal(strata.cloud.store.device(id), undefined, `${id} is gone from the store`);
  await expectEc2Error(
    ec2.send(new DescribeVolumesCommand({ VolumeIds: [fromS1] })),
    'InvalidVolume.NotFound',
  );
});

test('snapshot of a clone of a clone: three levels through the EC2 API, each level keeps its data', async () => {
  const level0 = randomBytes(MiB);
  const v0 = await createVolume(ec2);
  await nbdcopyIn(v0, level0);
  const s0 = await createSnapshot(ec2, v0);
  const v1 = await createVolume(ec2, { SnapshotId: s0 });
  await qemuIo(uri(v1), ['write -P 0x11 256k 256k']);
  const s1 = await createSnapshot(ec2, v1);
  const v2 = await createVolume(ec2, { SnapshotId: s1 });
  await qemuIo(uri(v2), ['write -P 0x22 512k 256k']);
  const s2 = await createSnapshot(ec2, v2);
  const v3 = await createVolume(ec2, { SnapshotId: s2 });
  await qemuIo(uri(v3), ['write -P 0x33 768k 256k']);
  const s3 = await createSnapshot(ec2, v3);

  const at = (n: number): Buffer => {
    const data = Buffer.from(level0);
    for (let level = 1; level <= n; level++)
      data.fill(0x11 * level, level * 256 * KiB, (level + 1) * 256 * KiB);
    return data;
  };
  const levels: [string, number][] = [
    [s0, 0],
    [s1, 1],
    [s2, 2],
    [s3, 3],
  ];
  for (const [snap, n] of levels)
    assert.ok((await nbdRead(uri(snap), 0, MiB)).equals(at(n)), `${snap} holds level ${n}`);
  for (const [volume, n] of [
    [v0, 0],
    [v1, 1],
    [v2, 2],
    [v3, 3],
  ] as const)
    assert.ok((await nbdRead(uri(volume), 0, MiB)).equals(at(n)), `${volume} holds level ${n}`);
  const snaps = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [s1, s2, s3] }));
  const byId = new Map(snaps.Snapshots?.map((s) => [s.SnapshotId, s.VolumeId]));
  assert.deepEqual([byId.get(s1), byId.get(s2), byId.get(s3)], [v1, v2, v3]);
  const vols = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [v1, v2, v3] }));
  const from = new Map(vols.Volumes?.map((v) => [v.VolumeId, v.SnapshotId]));
  assert.deepEqual([from.get(v1), from.get(v2), from.get(v3)], [s0, s1, s2]);
  // The middle levels can go; the deepest snapshot still restores everything.
  for (const id of [v1, v2]) await ec2.send(new DeleteVolumeCommand({ VolumeId: id }));
  for (const id of [s1, s0]) await ec2.send(new DeleteSnapshotCommand({ SnapshotId: id }));
  const restored = await createVolume(ec2, { SnapshotId: s3 });
  assert.ok((await nbdRead(uri(restored), 0, MiB)).equals(at(3)), 'a restore of s3 after its ancestors went');
});

test('ModifyVolume grows a volume online: data stays, and an NBD client sees the new size on reconnect', async () => {
  const id = await createVolume(ec2);
  await qemuIo(uri(id), ['write -P 0x3c 0 1M']);
  const sizeOf = async (): Promise<number> => Number((await run('nbdinfo', ['--size', uri(id)])).trim());
  assert.equal(await sizeOf(), 1024 * MiB);
  await ec2.send(new ModifyVolumeCommand({ VolumeId: id, Size: 3 }));
  for (let tries = 0; ; tries++) {
    const out = await ec2.send(new DescribeVolumesModificationsCommand({ VolumeIds: [id] }));
    const state = out.VolumesModifications?.[0]?.ModificationState;
    if (state === 'optimizing' || state === 'completed') break;
    assert.ok(tries < 100, `modification still ${state}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(await sizeOf(), 3 * 1024 * MiB);
  assert.ok(
    (await nbdRead(uri(id), 0, MiB)).every((byte) => byte === 0x3c),
    'data written before the grow',
  );
  await qemuIo(uri(id), ['write -P 0x3d 2G 1M']);
  assert.ok(
    (await nbdRead(uri(id), 2048 * MiB, MiB)).every((byte) => byte === 0x3d),
    'the new space is writable',
  );
  await ec2.send(new DeleteVolumeCommand({ VolumeId: id }));
});
