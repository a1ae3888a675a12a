// Volumes through the AWS SDK against an in-process daemon: EC2 semantics, errors, paging, filters,
// idempotency, isolation and persistence across a restart.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateVolumeCommand,
  DeleteVolumeCommand,
  DescribeVolumeAttributeCommand,
  DescribeVolumesCommand,
  DescribeVolumesModificationsCommand,
  DescribeVolumeStatusCommand,
  ModifyVolumeAttributeCommand,
  ModifyVolumeCommand,
  type EC2Client,
  type CreateVolumeCommandInput,
} from '@aws-sdk/client-ec2';
import { startTestDaemon, type TestDaemon } from '../../testing/test-daemon.ts';
import { units } from '../../../base/limits.ts';
import { expectEc2Error } from './ebs-test-helpers.ts';

let strata: TestDaemon;
let ec2: EC2Client;
const zone = 'us-east-1a';

before(async () => {
  strata = await startTestDaemon();
  ec2 = strata.ec2();
});
after(() => strata.close());

async function createVolume(input: Partial<CreateVolumeCommandInput> = {}): Promise<string> {
  const out = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, Size: 1, ...input }));
  assert.ok(out.VolumeId);
  return out.VolumeId;
}

async function describeOne(volumeId: string) {
  const out = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }));
  assert.equal(out.Volumes?.length, 1);
  return out.Volumes[0]!;
}

test('CreateVolume: creating, then available with a real device of the right size; EC2 defaults', async () => {
  const out = await ec2.send(
    new CreateVolumeCommand({ AvailabilityZone: zone, Size: 10, VolumeType: 'gp3' }),
  );
  assert.equal(out.State, 'creating');
  assert.equal(out.Iops, 3000);
  assert.equal(out.Throughput, 125);
  await strata.cloud.ebs.idle();
  const volume = await describeOne(out.VolumeId!);
  assert.equal(volume.State, 'available');
  assert.equal(volume.Size, 10);
  assert.equal(volume.AvailabilityZone, zone);
  assert.equal(strata.cloud.store.device(out.VolumeId!)?.sizeBytes, 10 * units.GiB);
  const gp2 = await describeOne(await createVolume({ Size: 50 }));
  assert.equal(gp2.VolumeType, 'gp2');
  assert.equal(gp2.Iops, 150);
});

test('CreateVolume errors match EC2', async () => {
  await expectEc2Error(
    ec2.send(new CreateVolumeCommand({ AvailabilityZone: undefined, Size: 1 })),
    'MissingParameter',
  );
  await expectEc2Error(
    ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'mars-1a', Size: 1 })),
    'InvalidZone.NotFound',
  );
  await expectEc2Error(ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone })), 'MissingParameter');
  await expectEc2Error(createVolume({ VolumeType: 'gp9' as 'gp2' }), 'UnknownVolumeType');
  await expectEc2Error(createVolume({ VolumeType: 'io1', Size: 10 }), 'MissingParameter');
  await expectEc2Error(createVolume({ VolumeType: 'st1', Size: 100 }), 'InvalidParameterValue');
  await expectEc2Error(createVolume({ VolumeType: 'gp2', Iops: 300 }), 'InvalidParameterCombination');
  await expectEc2Error(createVolume({ SnapshotId: 'snap-nope' }), 'InvalidSnapshotID.Malformed');
  await expectEc2Error(createVolume({ SnapshotId: 'snap-0123456789abcdef0' }), 'InvalidSnapshot.NotFound');
  const badSpec = [{ ResourceType: 'instance' as const, Tags: [{ Key: 'a', Value: 'b' }] }];
  await expectEc2Error(createVolume({ TagSpecifications: badSpec }), 'InvalidParameterValue');
});

test('DryRun validates and changes nothing', async () => {
  const before = (await ec2.send(new DescribeVolumesCommand({}))).Volumes?.length;
  await expectEc2Error(createVolume({ DryRun: true }), 'DryRunOperation');
  await expectEc2Error(
    createVolume({ DryRun: true, AvailabilityZone: 'nowhere-1a' }),
    'InvalidZone.NotFound',
  );
  const id = await createVolume();
  await strata.cloud.ebs.idle();
  await expectEc2Error(ec2.send(new DeleteVolumeCommand({ VolumeId: id, DryRun: true })), 'DryRunOperation');
  await expectEc2Error(ec2.send(new DescribeVolumesCommand({ DryRun: true })), 'DryRunOperation');
  assert.equal((await ec2.send(new DescribeVolumesCommand({}))).Volumes?.length, (before ?? 0) + 1);
});

test('ClientToken: same request returns the same volume; other parameters are IdempotentParameterMismatch', async () => {
  const input = { AvailabilityZone: zone, Size: 3, ClientToken: `token-${Date.now()}` };
  const first = await ec2.send(new CreateVolumeCommand(input));
  const again = await ec2.send(new CreateVolumeCommand(input));
  assert.equal(again.VolumeId, first.VolumeId);
  const raced = { ...input, ClientToken: `raced-${Date.now()}` };
  const parallel = await Promise.all([1, 2, 3].map(() => ec2.send(new CreateVolumeCommand(raced))));
  assert.equal(new Set(parallel.map((v) => v.VolumeId)).size, 1, 'concurrent retries make one volume');
  await expectEc2Error(
    ec2.send(new CreateVolumeCommand({ ...input, Size: 4 })),
    'IdempotentParameterMismatch',
  );
});

test('pagination: 23 volumes in pages of 5, each exactly once; MaxResults bounds and ids+MaxResults', async () => {
  const bob = strata.ec2(await strata.createAccount());
  const created = new Set<string>();
  for (let i = 0; i < 23; i++) {
    const out = await bob.send(new CreateVolumeCommand({ AvailabilityZone: zone, Size: 1 }));
    created.add(out.VolumeId!);
  }
  const seen: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const out = await bob.send(new DescribeVolumesCommand({ MaxResults: 5, NextToken: token }));
    assert.ok((out.Volumes?.length ?? 0) <= 5);
    seen.push(...(out.Volumes ?? []).map((v) => v.VolumeId!));
    token = out.NextToken;
    pages++;
  } while (token);
  assert.equal(pages, 5);
  assert.equal(seen.length, 23);
  assert.deepEqual(new Set(seen), created);
  await expectEc2Error(bob.send(new DescribeVolumesCommand({ MaxResults: 4 })), 'InvalidParameterValue');
  await expectEc2Error(
    bob.send(new DescribeVolumesCommand({ MaxResults: 5, NextToken: 'forged.token' })),
    'InvalidParameterValue',
  );
  await expectEc2Error(
    bob.send(new DescribeVolumesCommand({ MaxResults: 5, VolumeIds: seen.slice(0, 1) })),
    'InvalidParameterCombination',
  );
  assert.equal((await bob.send(new DescribeVolumesCommand({ MaxResults: 900 }))).Volumes?.length, 23);
});

test('filters: fields, tag:<key>, tag-key, wildcards; unknown names rejected', async () => {
  const carol = strata.ec2(await strata.createAccount());
  const tagged = (name: string) => [
    { ResourceType: 'volume' as const, Tags: [{ Key: 'Name', Value: name }] },
  ];
  const web = (
    await carol.send(
      new CreateVolumeCommand({ AvailabilityZone: zone, Size: 2, TagSpecifications: tagged('web-1') }),
    )
  ).VolumeId!;
  const db = (
    await carol.send(
      new CreateVolumeCommand({
        AvailabilityZone: 'us-east-1b',
        Size: 4,
        VolumeType: 'gp3',
        TagSpecifications: tagged('db-1'),
      }),
    )
  ).VolumeId!;
  const plain = (await carol.send(new CreateVolumeCommand({ AvailabilityZone: zone, Size: 2 }))).VolumeId!;
  await strata.cloud.ebs.idle();
  const ids = async (Filters: { Name: string; Values: string[] }[]) =>
    ((await carol.send(new DescribeVolumesCommand({ Filters }))).Volumes ?? []).map((v) => v.VolumeId).sort();
  assert.deepEqual(await ids([{ Name: 'tag:Name', Values: ['web-*'] }]), [web]);
  assert.deepEqual(await ids([{ Name: 'tag-key', Values: ['Name'] }]), [web, db].sort());
  assert.deepEqual(
    await ids([
      { Name: 'size', Values: ['2'] },
      { Name: 'availability-zone', Values: ['us-east-1?'] },
    ]),
    [web, plain].sort(),
  );
  assert.deepEqual(await ids([{ Name: 'volume-type', Values: ['gp3'] }]), [db]);
  assert.deepEqual(
    await ids([
      { Name: 'status', Values: ['available'] },
      { Name: 'volume-id', Values: [plain] },
    ]),
    [plain],
  );
  assert.deepEqual(
    await ids([
      { Name: 'encrypted', Values: ['false'] },
      { Name: 'tag:Name', Values: ['*-1'] },
    ]),
    [web, db].sort(),
  );
  await expectEc2Error(
    carol.send(new DescribeVolumesCommand({ Filters: [{ Name: 'colour', Values: ['x'] }] })),
    'InvalidParameterValue',
  );
});

test('DescribeVolumes and DeleteVolume by id: Malformed, NotFound, and another account looks like nothing', async () => {
  const id = await createVolume();
  await strata.cloud.ebs.idle();
  const eve = strata.ec2(await strata.createAccount());
  await expectEc2Error(
    ec2.send(new DescribeVolumesCommand({ VolumeIds: ['vol-xyz'] })),
    'InvalidVolumeID.Malformed',
  );
  await expectEc2Error(
    ec2.send(new DescribeVolumesCommand({ VolumeIds: ['vol-0123456789abcdef0'] })),
    'InvalidVolume.NotFound',
  );
  await expectEc2Error(eve.send(new DescribeVolumesCommand({ VolumeIds: [id] })), 'InvalidVolume.NotFound');
  await expectEc2Error(eve.send(new DeleteVolumeCommand({ VolumeId: id })), 'InvalidVolume.NotFound');
  await expectEc2Error(
    eve.send(new ModifyVolumeCommand({ VolumeId: id, Size: 9 })),
    'InvalidVolume.NotFound',
  );
  assert.equal((await eve.send(new DescribeVolumesCommand({}))).Volumes?.length, 0);
  await ec2.send(new DeleteVolumeCommand({ VolumeId: id }));
  await strata.cloud.ebs.idle();
  await expectEc2Error(ec2.send(new DescribeVolumesCommand({ VolumeIds: [id] })), 'InvalidVolume.NotFound');
  assert.equal(strata.cloud.store.device(id), undefined);
});

test('DeleteVolume of a volume in use is VolumeInUse', async () => {
  const id = await createVolume();
  await strata.cloud.ebs.idle();
  // Attachments come with compute; it moves the state through this hook.
  assert.equal(await strata.cloud.ebs.volumes.setInUse(strata.admin.accountId, id, true), true);
  assert.equal((await describeOne(id)).State, 'in-use');
  await expectEc2Error(ec2.send(new DeleteVolumeCommand({ VolumeId: id })), 'VolumeInUse');
  assert.equal(await strata.cloud.ebs.volumes.setInUse(strata.admin.accountId, id, false), true);
  await ec2.send(new DeleteVolumeCommand({ VolumeId: id }));
});

test('ModifyVolume grows the device: modifying → optimizing → completed; shrink refused', async () => {
  const id = await createVolume({ Size: 2, VolumeType: 'gp3' });
  await strata.cloud.ebs.idle();
  const out = await ec2.send(new ModifyVolumeCommand({ VolumeId: id, Size: 10, Iops: 4000 }));
  assert.equal(out.VolumeModification?.ModificationState, 'modifying');
  assert.equal(out.VolumeModification?.OriginalSize, 2);
  assert.equal(out.VolumeModification?.TargetSize, 10);
  await expectEc2Error(
    ec2.send(new ModifyVolumeCommand({ VolumeId: id, Size: 12 })),
    'IncorrectModificationState',
  );
  const stateNow = async () =>
    (await ec2.send(new DescribeVolumesModificationsCommand({ VolumeIds: [id] }))).VolumesModifications?.[0]
      ?.ModificationState;
  let state = await stateNow();
  for (let i = 0; i < 100 && state === 'modifying'; i++) state = await stateNow();
  assert.equal(state, 'optimizing', 'the service holds optimizing for a while (1 s by default)');
  await strata.cloud.ebs.idle();
  const mods = await ec2.send(new DescribeVolumesModificationsCommand({ VolumeIds: [id] }));
  assert.equal(mods.VolumesModifications?.[0]?.ModificationState, 'completed');
  assert.equal(mods.VolumesModifications?.[0]?.Progress, 100);
  const volume = await describeOne(id);
  assert.equal(volume.Size, 10);
  assert.equal(volume.Iops, 4000);
  assert.equal(strata.cloud.store.device(id)?.sizeBytes, 10 * units.GiB);
  await expectEc2Error(ec2.send(new ModifyVolumeCommand({ VolumeId: id, Size: 4 })), 'InvalidParameterValue');
});

test('DescribeVolumeStatus and volume attributes', async () => {
  const id = await createVolume();
  await strata.cloud.ebs.idle();
  const status = await ec2.send(new DescribeVolumeStatusCommand({ VolumeIds: [id] }));
  assert.equal(status.VolumeStatuses?.[0]?.VolumeStatus?.Status, 'ok');
  const read = () =>
    ec2.send(new DescribeVolumeAttributeCommand({ VolumeId: id, Attribute: 'autoEnableIO' }));
  assert.equal((await read()).AutoEnableIO?.Value, false);
  await ec2.send(new ModifyVolumeAttributeCommand({ VolumeId: id, AutoEnableIO: { Value: true } }));
  assert.equal((await read()).AutoEnableIO?.Value, true);
  const codes = await ec2.send(
    new DescribeVolumeAttributeCommand({ VolumeId: id, Attribute: 'productCodes' }),
  );
  assert.deepEqual(codes.ProductCodes ?? [], []);
});

test('restart: volumes, tags and data persist; transitions a crash interrupted are completed', async () => {
  const id = await createVolume({
    Size: 1,
    TagSpecifications: [{ ResourceType: 'volume', Tags: [{ Key: 'keep', Value: 'me' }] }],
  });
  const doomed = await createVolume();
  await strata.cloud.ebs.idle();
  const data = Buffer.alloc(4096, 0x5a);
  await strata.cloud.store.write(id, 8192, data, { fua: true });
  // A crash between "row committed" and "store op done" leaves these behind (see cloud/ebs/volumes.ts).
  const account = strata.admin.accountId;
  const orphan = {
    ...(await strata.cloud.ebs.volumes.get(account, id)).row,
    id: 'vol-0000000000000000a',
    state: 'creating',
  };
  await strata.cloud.db.insertInto('volumes').values(orphan).execute();
  await strata.cloud.db.updateTable('volumes').set({ state: 'deleting' }).where('id', '=', doomed).execute();
  await strata.restart();
  ec2 = strata.ec2();
  await strata.cloud.ebs.idle();
  const volume = await describeOne(id);
  assert.equal(volume.State, 'available');
  assert.deepEqual(volume.Tags, [{ Key: 'keep', Value: 'me' }]);
  assert.deepEqual(await strata.cloud.store.read(id, 8192, 4096), data);
  assert.equal((await describeOne(orphan.id)).State, 'available');
  assert.equal(strata.cloud.store.device(orphan.id)?.sizeBytes, units.GiB);
  await expectEc2Error(
    ec2.send(new DescribeVolumesCommand({ VolumeIds: [doomed] })),
    'InvalidVolume.NotFound',
  );
  assert.equal(strata.cloud.store.device(doomed), undefined);
});
