// Snapshots through the AWS SDK: point-in-time data, restore, copy, sharing between accounts (and its
// refusals), describe options, errors, DryRun and persistence.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CopySnapshotCommand,
  CreateSnapshotCommand,
  CreateVolumeCommand,
  DeleteSnapshotCommand,
  DeleteVolumeCommand,
  DescribeSnapshotAttributeCommand,
  DescribeSnapshotsCommand,
  ModifySnapshotAttributeCommand,
  ResetSnapshotAttributeCommand,
  CreateTagsCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { startTestDaemon, type TestDaemon } from '../../testing/test-daemon.ts';
import { expectEc2Error } from './ebs-test-helpers.ts';

let strata: TestDaemon;
let alice: EC2Client;
let bob: EC2Client;
let bobAccount: string;
const zone = 'us-east-1a';

before(async () => {
  strata = await startTestDaemon();
  alice = strata.ec2();
  const key = await strata.createAccount('bob');
  bob = strata.ec2(key);
  bobAccount = key.accountId;
});
after(() => strata.close());

async function volume(
  client: EC2Client,
  input: { Size?: number; SnapshotId?: string } = { Size: 1 },
): Promise<string> {
  const out = await client.send(new CreateVolumeCommand({ AvailabilityZone: zone, ...input }));
  await strata.cloud.ebs.idle();
  return out.VolumeId!;
}

async function snapshot(client: EC2Client, volumeId: string, description?: string): Promise<string> {
  const out = await client.send(new CreateSnapshotCommand({ VolumeId: volumeId, Description: description }));
  assert.equal(out.State, 'pending');
  await strata.cloud.ebs.idle();
  return out.SnapshotId!;
}

const pattern = (byte: number) => Buffer.alloc(65536, byte);

test('CreateSnapshot fixes the point in time; a volume restored from it reads that data', async () => {
  const vol = await volume(alice);
  await strata.cloud.store.write(vol, 0, pattern(1));
  const snap = await snapshot(alice, vol, 'first');
  await strata.cloud.store.write(vol, 0, pattern(2));
  const described = (await alice.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap] }))).Snapshots?.[0];
  assert.equal(described?.State, 'completed');
  assert.equal(described?.Progress, '100%');
  assert.equal(described?.VolumeId, vol);
  assert.equal(described?.VolumeSize, 1);
  assert.equal(described?.Description, 'first');
  const restored = await volume(alice, { SnapshotId: snap });
  assert.deepEqual(await strata.cloud.store.read(restored, 0, 65536), pattern(1));
  const bigger = await volume(alice, { SnapshotId: snap, Size: 3 });
  assert.equal(strata.cloud.store.device(bigger)?.sizeBytes, 3 * 1024 ** 3);
  await expectEc2Error(
    alice.send(
      new CreateVolumeCommand({ AvailabilityZone: zone, SnapshotId: snap, Size: 2, VolumeType: 'st1' }),
    ),
    'InvalidParameterValue',
  );
  const small = await volume(alice, { Size: 4 });
  const bigSnap = await snapshot(alice, small);
  await expectEc2Error(
    alice.send(new CreateVolumeCommand({ AvailabilityZone: zone, SnapshotId: bigSnap, Size: 2 })),
    'InvalidParameterValue',
  );
});

test('CopySnapshot: an independent, completed copy with its own id and description', async () => {
  const vol = await volume(alice);
  await strata.cloud.store.write(vol, 0, pattern(7));
  const snap = await snapshot(alice, vol);
  const copy = await alice.send(
    new CopySnapshotCommand({
      SourceRegion: strata.region,
      SourceSnapshotId: snap,
      Description: 'copy',
      TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'c', Value: '1' }] }],
    }),
  );
  assert.ok(copy.SnapshotId && copy.SnapshotId !== snap);
  await strata.cloud.ebs.idle();
  await alice.send(new DeleteSnapshotCommand({ SnapshotId: snap }));
  const described = (await alice.send(new DescribeSnapshotsCommand({ SnapshotIds: [copy.SnapshotId] })))
    .Snapshots?.[0];
  assert.equal(described?.State, 'completed');
  assert.equal(described?.Description, 'copy');
  assert.deepEqual(described?.Tags, [{ Key: 'c', Value: '1' }]);
  const restored = await volume(alice, { SnapshotId: copy.SnapshotId });
  assert.deepEqual(await strata.cloud.store.read(restored, 0, 65536), pattern(7));
  await expectEc2Error(
    alice.send(new CopySnapshotCommand({ SourceRegion: 'eu-west-1', SourceSnapshotId: copy.SnapshotId })),
    'InvalidParameterValue',
  );
  await expectEc2Error(
    alice.send(
      new CopySnapshotCommand({ SourceRegion: strata.region, SourceSnapshotId: 'snap-0123456789abcdef0' }),
    ),
    'InvalidSnapshot.NotFound',
  );
});

test('CopySnapshot honours a ClientToken sent on the wire (the SDK model no longer has one)', async () => {
  const snap = await snapshot(alice, await volume(alice));
  const raw = strata.ec2();
  let token = 'copy-token-1';
  raw.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { body?: unknown };
      if (typeof request.body === 'string') request.body += `&ClientToken=${token}`;
      return next(args);
    },
    { step: 'build', priority: 'high' },
  );
  const input = { SourceRegion: strata.region, SourceSnapshotId: snap, Description: 'idem' };
  const first = await raw.send(new CopySnapshotCommand(input));
  const again = await raw.send(new CopySnapshotCommand(input));
  assert.equal(again.SnapshotId, first.SnapshotId);
  await expectEc2Error(
    raw.send(new CopySnapshotCommand({ ...input, Description: 'other' })),
    'IdempotentParameterMismatch',
  );
  token = 'copy-token-2';
  assert.notEqual((await raw.send(new CopySnapshotCommand(input))).SnapshotId, first.SnapshotId);
  await strata.cloud.ebs.idle();
});

test('sharing: createVolumePermission lets another account see, restore and copy, but not delete or modify', async () => {
  const vol = await volume(alice);
  await strata.cloud.store.write(vol, 4096, pattern(9).subarray(0, 4096));
  const snap = await snapshot(alice, vol);
  await alice.send(new CreateTagsCommand({ Resources: [snap], Tags: [{ Key: 'owner-only', Value: 'yes' }] }));
  await expectEc2Error(
    bob.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap] })),
    'InvalidSnapshot.NotFound',
  );
  await expectEc2Error(volume(bob, { SnapshotId: snap }), 'InvalidSnapshot.NotFound');

  await alice.send(
    new ModifySnapshotAttributeCommand({
      SnapshotId: snap,
      Attribute: 'createVolumePermission',
      OperationType: 'add',
      UserIds: [bobAccount],
    }),
  );
  const perms = await alice.send(
    new DescribeSnapshotAttributeCommand({ SnapshotId: snap, Attribute: 'createVolumePermission' }),
  );
  assert.deepEqual(perms.CreateVolumePermissions, [{ UserId: bobAccount }]);

  const seen = (await bob.send(new DescribeSnapshotsCommand({}))).Snapshots?.map((s) => s.SnapshotId);
  assert.ok(seen?.includes(snap), 'a shared snapshot is in the grantee default describe');
  const restorable = await bob.send(new DescribeSnapshotsCommand({ RestorableByUserIds: ['self'] }));
  assert.deepEqual(
    restorable.Snapshots?.map((s) => s.SnapshotId),
    [snap],
  );
  const shared = restorable.Snapshots?.[0];
  assert.equal(shared?.OwnerId, strata.admin.accountId);
  assert.equal(shared?.Tags, undefined, 'the owner tags stay private');
  assert.equal((await bob.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))).Snapshots?.length, 0);

  const bobVol = await volume(bob, { SnapshotId: snap });
  assert.deepEqual(await strata.cloud.store.read(bobVol, 4096, 4096), pattern(9).subarray(0, 4096));
  const bobCopy = await bob.send(
    new CopySnapshotCommand({ SourceRegion: strata.region, SourceSnapshotId: snap }),
  );
  await strata.cloud.ebs.idle();
  assert.deepEqual(
    (await bob.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))).Snapshots?.map(
      (s) => s.SnapshotId,
    ),
    [bobCopy.SnapshotId],
  );

  await expectEc2Error(bob.send(new DeleteSnapshotCommand({ SnapshotId: snap })), 'UnauthorizedOperation');
  await expectEc2Error(
    bob.send(new DeleteSnapshotCommand({ SnapshotId: snap, DryRun: true })),
    'UnauthorizedOperation',
  );
  await expectEc2Error(
    bob.send(
      new ModifySnapshotAttributeCommand({
        SnapshotId: snap,
        Attribute: 'createVolumePermission',
        OperationType: 'add',
        GroupNames: ['all'],
      }),
    ),
    'UnauthorizedOperation',
  );
  await expectEc2Error(
    bob.send(new CreateTagsCommand({ Resources: [snap], Tags: [{ Key: 'x', Value: 'y' }] })),
    'UnauthorizedOperation',
  );

  await alice.send(
    new ResetSnapshotAttributeCommand({ SnapshotId: snap, Attribute: 'createVolumePermission' }),
  );
  await expectEc2Error(
    bob.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap] })),
    'InvalidSnapshot.NotFound',
  );
});

test('public snapshots (group all) appear for everyone; removal hides them again', async () => {
  const snap = await snapshot(alice, await volume(alice));
  await alice.send(
    new ModifySnapshotAttributeCommand({
      SnapshotId: snap,
      CreateVolumePermission: { Add: [{ Group: 'all' }] },
    }),
  );
  assert.ok((await bob.send(new DescribeSnapshotsCommand({}))).Snapshots?.some((s) => s.SnapshotId === snap));
  await alice.send(
    new ModifySnapshotAttributeCommand({
      SnapshotId: snap,
      CreateVolumePermission: { Remove: [{ Group: 'all' }] },
    }),
  );
  assert.ok(
    !(await bob.send(new DescribeSnapshotsCommand({}))).Snapshots?.some((s) => s.SnapshotId === snap),
  );
});

test('DeleteSnapshot, errors, filters and DryRun', async () => {
  const vol = await volume(alice);
  await expectEc2Error(
    alice.send(new CreateSnapshotCommand({ VolumeId: vol, DryRun: true })),
    'DryRunOperation',
  );
  await expectEc2Error(
    alice.send(new CreateSnapshotCommand({ VolumeId: 'vol-0123456789abcdef0' })),
    'InvalidVolume.NotFound',
  );
  await expectEc2Error(bob.send(new CreateSnapshotCommand({ VolumeId: vol })), 'InvalidVolume.NotFound');
  const snap = await snapshot(alice, vol, 'nightly-2024');
  const byFilter = async (Name: string, Values: string[]) =>
    (await alice.send(new DescribeSnapshotsCommand({ Filters: [{ Name, Values }] }))).Snapshots?.map(
      (s) => s.SnapshotId,
    );
  assert.deepEqual(await byFilter('description', ['nightly-*']), [snap]);
  assert.deepEqual(await byFilter('volume-id', [vol]), [snap]);
  assert.ok((await byFilter('status', ['completed']))?.includes(snap));
  assert.ok((await byFilter('progress', ['100%']))?.includes(snap));
  await expectEc2Error(byFilter('nonsense', ['x']), 'InvalidParameterValue');
  await expectEc2Error(
    alice.send(new DescribeSnapshotsCommand({ SnapshotIds: ['snap-zz'] })),
    'InvalidSnapshotID.Malformed',
  );
  await expectEc2Error(
    alice.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap], MaxResults: 5 })),
    'InvalidParameterCombination',
  );
  // The source volume can go; its snapshots stay (EC2 keeps them).
  await alice.send(new DeleteVolumeCommand({ VolumeId: vol }));
  await strata.cloud.ebs.idle();
  assert.deepEqual(await byFilter('volume-id', [vol]), [snap]);
  await expectEc2Error(
    alice.send(new DeleteSnapshotCommand({ SnapshotId: snap, DryRun: true })),
    'DryRunOperation',
  );
  await alice.send(new DeleteSnapshotCommand({ SnapshotId: snap }));
  await expectEc2Error(
    alice.send(new DeleteSnapshotCommand({ SnapshotId: snap })),
    'InvalidSnapshot.NotFound',
  );
  assert.equal(strata.cloud.store.device(snap), undefined);
});

test('a volume the store failed to make is in error: IncorrectState for snapshots, still deletable', async () => {
  const vol = await volume(alice);
  // What the background job records when the block store refuses (e.g. ENOSPC).
  await strata.cloud.db.updateTable('volumes').set({ state: 'error' }).where('id', '=', vol).execute();
  await expectEc2Error(alice.send(new CreateSnapshotCommand({ VolumeId: vol })), 'IncorrectState');
  await alice.send(new DeleteVolumeCommand({ VolumeId: vol }));
  await strata.cloud.ebs.idle();
  assert.equal(strata.cloud.store.device(vol), undefined);
});

test('snapshot in use by an image is InvalidSnapshot.InUse', async () => {
  const snap = await snapshot(alice, await volume(alice));
  strata.cloud.ebs.snapshots.imageUsing = (id) =>
    Promise.resolve(id === snap ? 'ami-0123456789abcdef0' : undefined);
  try {
    await expectEc2Error(
      alice.send(new DeleteSnapshotCommand({ SnapshotId: snap })),
      'InvalidSnapshot.InUse',
    );
  } finally {
    strata.cloud.ebs.snapshots.imageUsing = () => Promise.resolve(undefined);
  }
});

test('DescribeSnapshots pages with MaxResults and persists across a restart', async () => {
  const carolKey = await strata.createAccount();
  const carol = strata.ec2(carolKey);
  const vol = await volume(carol);
  const made = new Set<string>();
  for (let i = 0; i < 7; i++)
    made.add((await carol.send(new CreateSnapshotCommand({ VolumeId: vol }))).SnapshotId!);
  await strata.cloud.ebs.idle();
  await strata.restart();
  const carol2 = strata.ec2(carolKey);
  const first = await carol2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], MaxResults: 5 }));
  assert.equal(first.Snapshots?.length, 5);
  const second = await carol2.send(
    new DescribeSnapshotsCommand({ OwnerIds: ['self'], MaxResults: 5, NextToken: first.NextToken }),
  );
  assert.equal(second.NextToken, undefined);
  assert.deepEqual(
    new Set([...(first.Snapshots ?? []), ...(second.Snapshots ?? [])].map((s) => s.SnapshotId)),
    made,
  );
});
