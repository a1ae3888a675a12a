// Images through the AWS SDK against an in-process daemon: RegisterImage, DescribeImages (owners,
// executable users, filters), attributes and launch permissions, DeregisterImage and snapshots in use.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateImageCommand,
  CreateTagsCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  ModifyImageAttributeCommand,
  RegisterImageCommand,
  ResetImageAttributeCommand,
  type EC2Client,
  type ImageAttributeName,
  type RegisterImageCommandInput,
} from '@aws-sdk/client-ec2';
import { startTestDaemon, type TestDaemon } from '../../testing/test-daemon.ts';
import { expectEc2Error } from './ebs-test-helpers.ts';
import { launch, registerImage, settled, snapshotWithData } from './compute-test-helpers.ts';

let strata: TestDaemon;
let ec2: EC2Client;
let snapshotId: string;

before(async () => {
  strata = await startTestDaemon();
  ec2 = strata.ec2();
  snapshotId = await snapshotWithData(strata, ec2, 'root', 2);
});
after(() => strata.close());

test('RegisterImage records mappings; DescribeImages shows them as EC2 does', async () => {
  const imageId = await registerImage(ec2, snapshotId, {
    Description: 'demo',
    EnaSupport: true,
    BootMode: 'legacy-bios',
    BlockDeviceMappings: [
      {
        DeviceName: '/dev/xvda',
        Ebs: { SnapshotId: snapshotId, VolumeSize: 4, DeleteOnTermination: true, VolumeType: 'gp3' },
      },
      { DeviceName: '/dev/sdb', VirtualName: 'ephemeral0' },
      { DeviceName: '/dev/sdc', NoDevice: '' },
      { DeviceName: '/dev/sdd', Ebs: { VolumeSize: 1, DeleteOnTermination: false } },
    ],
    TagSpecifications: [{ ResourceType: 'image', Tags: [{ Key: 'role', Value: 'base' }] }],
  });
  const { Images } = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
  const image = Images?.[0];
  assert.equal(image?.State, 'available');
  assert.equal(image.RootDeviceType, 'ebs');
  assert.equal(image.RootDeviceName, '/dev/xvda');
  assert.equal(image.Architecture, 'x86_64');
  assert.equal(image.VirtualizationType, 'hvm');
  assert.equal(image.EnaSupport, true);
  assert.equal(image.BootMode, 'legacy-bios');
  assert.equal(image.Public, false);
  assert.equal(image.OwnerId, strata.admin.accountId);
  assert.deepEqual(image.Tags, [{ Key: 'role', Value: 'base' }]);
  const [root, eph, none, blank] = image.BlockDeviceMappings ?? [];
  assert.deepEqual(
    [root?.Ebs?.SnapshotId, root?.Ebs?.VolumeSize, root?.Ebs?.VolumeType, root?.Ebs?.DeleteOnTermination],
    [snapshotId, 4, 'gp3', true],
  );
  assert.equal(eph?.VirtualName, 'ephemeral0');
  assert.equal(none?.NoDevice, '');
  assert.deepEqual(
    [blank?.Ebs?.SnapshotId, blank?.Ebs?.VolumeSize, blank?.Ebs?.DeleteOnTermination],
    [undefined, 1, false],
  );
});

test('RegisterImage rejects what EC2 rejects', async () => {
  const root = [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snapshotId } }];
  const name = `dup-${process.pid}`;
  await registerImage(ec2, snapshotId, { Name: name });
  await expectEc2Error(
    ec2.send(
      new RegisterImageCommand({ Name: name, RootDeviceName: '/dev/xvda', BlockDeviceMappings: root }),
    ),
    'InvalidAMIName.Duplicate',
  );
  await expectEc2Error(
    ec2.send(new RegisterImageCommand({ Name: 'x', RootDeviceName: '/dev/xvda', BlockDeviceMappings: root })),
    'InvalidAMIName.Malformed',
  );
  await expectEc2Error(
    ec2.send(
      new RegisterImageCommand({
        RootDeviceName: '/dev/xvda',
        BlockDeviceMappings: root,
      } as RegisterImageCommandInput),
    ),
    'MissingParameter',
  );
  await expectEc2Error(registerImage(ec2, snapshotId, { Architecture: 'arm64' }), 'InvalidParameterValue');
  await expectEc2Error(
    registerImage(ec2, snapshotId, { VirtualizationType: 'paravirtual' }),
    'InvalidParameterValue',
  );
  // The fake driver has no OVMF, so uefi is refused.
  await expectEc2Error(registerImage(ec2, snapshotId, { BootMode: 'uefi' }), 'UnsupportedOperation');
  await expectEc2Error(
    registerImage(ec2, snapshotId, { BootMode: 'bios' as never }),
    'InvalidParameterValue',
  );
  await expectEc2Error(
    registerImage(ec2, snapshotId, { RootDeviceName: '/dev/sdz' }),
    'InvalidBlockDeviceMapping',
  );
  await expectEc2Error(
    registerImage(ec2, snapshotId, {
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snapshotId, VolumeSize: 1 } }],
    }),
    'InvalidBlockDeviceMapping',
  );
  await expectEc2Error(registerImage(ec2, 'snap-0123456789abcdef0'), 'InvalidSnapshot.NotFound');
  await expectEc2Error(registerImage(ec2, snapshotId, { DryRun: true }), 'DryRunOperation');
});

test('DescribeImages: owners, executable users, filters, sharing and isolation', async () => {
  const bobKey = await strata.createAccount('bob-images');
  const bob = strata.ec2(bobKey);
  const imageId = await registerImage(ec2, snapshotId);
  await ec2.send(new CreateTagsCommand({ Resources: [imageId], Tags: [{ Key: 'env', Value: 'test' }] }));
  const ids = async (client: EC2Client, input: object): Promise<string[]> =>
    ((await client.send(new DescribeImagesCommand(input))).Images ?? []).map((i) => i.ImageId!);
  assert.deepEqual(await ids(ec2, { Filters: [{ Name: 'tag:env', Values: ['test'] }] }), [imageId]);
  assert.ok((await ids(ec2, { Owners: ['self'] })).includes(imageId));
  assert.ok(
    (
      await ids(ec2, { Filters: [{ Name: 'block-device-mapping.snapshot-id', Values: [snapshotId] }] })
    ).includes(imageId),
  );
  assert.deepEqual(
    await ids(ec2, {
      Filters: [
        { Name: 'image-id', Values: [imageId] },
        { Name: 'state', Values: ['available'] },
        { Name: 'root-device-type', Values: ['ebs'] },
        { Name: 'architecture', Values: ['x86_64'] },
      ],
    }),
    [imageId],
  );
  assert.deepEqual(await ids(bob, {}), []);
  await expectEc2Error(bob.send(new DescribeImagesCommand({ ImageIds: [imageId] })), 'InvalidAMIID.NotFound');
  await expectEc2Error(
    ec2.send(new DescribeImagesCommand({ ImageIds: ['ami-nothex'] })),
    'InvalidAMIID.Malformed',
  );
  const bobId = bobKey.accountId;
  await ec2.send(
    new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Add: [{ UserId: bobId }] } }),
  );
  assert.deepEqual(await ids(bob, { ExecutableUsers: ['self'] }), [imageId]);
  assert.deepEqual(await ids(bob, { ImageIds: [imageId] }), [imageId]);
  await ec2.send(
    new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Add: [{ Group: 'all' }] } }),
  );
  assert.ok((await ids(bob, { Filters: [{ Name: 'is-public', Values: ['true'] }] })).includes(imageId));
  await expectEc2Error(bob.send(new DeregisterImageCommand({ ImageId: imageId })), 'InvalidAMIID.NotFound');
  const perms = await ec2.send(
    new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }),
  );
  assert.deepEqual(perms.LaunchPermissions?.map((p) => p.Group ?? p.UserId).sort(), ['all', bobId].sort());
  await ec2.send(new ResetImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }));
  assert.deepEqual(await ids(bob, {}), []);
  await expectEc2Error(
    ec2.send(
      new ModifyImageAttributeCommand({
        ImageId: imageId,
        LaunchPermission: { Add: [{ UserId: 'nobody' }] },
      }),
    ),
    'InvalidAMIAttributeItemValue',
  );
});

test('image attributes: description is writable, blockDeviceMapping read-only', async () => {
  const imageId = await registerImage(ec2, snapshotId, { Description: 'before' });
  await ec2.send(new ModifyImageAttributeCommand({ ImageId: imageId, Description: { Value: 'after' } }));
  const description = await ec2.send(
    new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'description' }),
  );
  assert.equal(description.Description?.Value, 'after');
  const mapping = await ec2.send(
    new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'blockDeviceMapping' }),
  );
  assert.equal(mapping.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId, snapshotId);
  await expectEc2Error(
    ec2.send(
      new ModifyImageAttributeCommand({ ImageId: imageId, Attribute: 'blockDeviceMapping', Value: 'x' }),
    ),
    'InvalidParameterValue',
  );
});

test('DeregisterImage releases its snapshot: DeleteSnapshot is InUse before, allowed after', async () => {
  const own = await snapshotWithData(strata, ec2, 'deregister');
  const imageId = await registerImage(ec2, own);
  await expectEc2Error(ec2.send(new DeleteSnapshotCommand({ SnapshotId: own })), 'InvalidSnapshot.InUse');
  await expectEc2Error(
    ec2.send(new DeregisterImageCommand({ ImageId: imageId, DryRun: true })),
    'DryRunOperation',
  );
  await ec2.send(new DeregisterImageCommand({ ImageId: imageId }));
  await expectEc2Error(ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] })), 'InvalidAMIID.NotFound');
  await expectEc2Error(ec2.send(new DeregisterImageCommand({ ImageId: imageId })), 'InvalidAMIID.NotFound');
  await ec2.send(new DeleteSnapshotCommand({ SnapshotId: own }));
});

test('DescribeImageAttribute answers every attribute clients read (Ansible reads productCodes on each call)', async () => {
  const imageId = await registerImage(ec2, snapshotId);
  const read = (Attribute: ImageAttributeName) =>
    ec2.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute }));
  assert.deepEqual((await read('productCodes')).ProductCodes, []);
  assert.equal((await read('kernel')).KernelId?.Value, undefined);
  assert.equal((await read('ramdisk')).RamdiskId?.Value, undefined);
  assert.equal((await read('sriovNetSupport')).SriovNetSupport?.Value, undefined);
  assert.equal((await read('tpmSupport')).TpmSupport?.Value, undefined);
  assert.equal((await read('uefiData')).UefiData?.Value, undefined);
  assert.equal((await read('imdsSupport')).ImdsSupport?.Value, undefined);
  assert.equal((await read('deregistrationProtection')).DeregistrationProtection?.Value, 'disabled');
  assert.equal((await read('lastLaunchedTime')).LastLaunchedTime?.Value, undefined);
  assert.equal((await read('productCodes')).ImageId, imageId);
  const [instanceId] = await launch(strata, ec2, imageId);
  const launched = (await read('lastLaunchedTime')).LastLaunchedTime?.Value;
  const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId!] }));
  assert.equal(launched, described.Reservations?.[0]?.Instances?.[0]?.LaunchTime?.toISOString());
});

test('DescribeImages filters owner-alias and source-instance-id; several missing ids use the plural', async () => {
  const imageId = await registerImage(ec2, snapshotId);
  const [instanceId] = await launch(strata, ec2, imageId);
  const created = await ec2.send(
    new CreateImageCommand({ InstanceId: instanceId, Name: `from-instance-${Date.now()}`, NoReboot: true }),
  );
  await settled(strata);
  const bySource = await ec2.send(
    new DescribeImagesCommand({ Filters: [{ Name: 'source-instance-id', Values: [instanceId!] }] }),
  );
  assert.deepEqual(
    bySource.Images?.map((i) => i.ImageId),
    [created.ImageId],
  );
  const byAlias = await ec2.send(
    new DescribeImagesCommand({ Filters: [{ Name: 'owner-alias', Values: ['amazon'] }] }),
  );
  assert.deepEqual(byAlias.Images, []);
  const missing = ['ami-0123456789abcdef0', 'ami-0123456789abcdef1'];
  await assert.rejects(ec2.send(new DescribeImagesCommand({ ImageIds: missing })), (error: Error) => {
    assert.equal(error.name, 'InvalidAMIID.NotFound');
    assert.equal(error.message, `The image ids '[${missing.join(', ')}]' do not exist`);
    return true;
  });
  await assert.rejects(ec2.send(new DescribeImagesCommand({ ImageIds: [missing[0]!] })), (error: Error) => {
    assert.equal(error.message, `The image id '[${missing[0]}]' does not exist`);
    return true;
  });
});

test('launch permissions for organizations and units are kept and listed, and let no account launch', async () => {
  const imageId = await registerImage(ec2, snapshotId);
  const organizationArn = `arn:aws:organizations::${strata.admin.accountId}:organization/o-abcdef1234`;
  const organizationalUnitArn = `arn:aws:organizations::${strata.admin.accountId}:ou/o-abcdef1234/ou-ab12-cdef5678`;
  await ec2.send(
    new ModifyImageAttributeCommand({
      ImageId: imageId,
      LaunchPermission: {
        Add: [{ OrganizationArn: organizationArn }, { OrganizationalUnitArn: organizationalUnitArn }],
      },
    }),
  );
  const listed = await ec2.send(
    new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }),
  );
  assert.deepEqual(listed.LaunchPermissions, [
    { OrganizationArn: organizationArn },
    { OrganizationalUnitArn: organizationalUnitArn },
  ]);
  const bob = strata.ec2(await strata.createAccount());
  await expectEc2Error(bob.send(new DescribeImagesCommand({ ImageIds: [imageId] })), 'InvalidAMIID.NotFound');
  await expectEc2Error(
    ec2.send(
      new ModifyImageAttributeCommand({
        ImageId: imageId,
        LaunchPermission: { Add: [{ OrganizationArn: 'o-not-an-arn' }] },
      }),
    ),
    'InvalidAMIAttributeItemValue',
  );
  await ec2.send(
    new ModifyImageAttributeCommand({
      ImageId: imageId,
      LaunchPermission: { Remove: [{ OrganizationArn: organizationArn }] },
    }),
  );
  const after = await ec2.send(
    new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }),
  );
  assert.deepEqual(after.LaunchPermissions, [{ OrganizationalUnitArn: organizationalUnitArn }]);
});
