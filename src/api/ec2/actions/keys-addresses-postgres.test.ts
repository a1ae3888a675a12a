// Key pairs, public and Elastic addresses and metadata options on PostgreSQL: migration 0007's columns and
// indexes, the counts read back as strings, the unique public address, exercised once end to end.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  CreateKeyPairCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  ModifyInstanceMetadataOptionsCommand,
  ReleaseAddressCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { postgresSkipReason, startTestDaemon, type TestDaemon } from '../../testing/test-daemon.ts';
import { expectEc2Error } from './ebs-test-helpers.ts';
import { registerImage, snapshotWithData } from './compute-test-helpers.ts';

const skip = postgresSkipReason();
let strata: TestDaemon | undefined;

before(async () => {
  if (skip === undefined) strata = await startTestDaemon({ postgres: true });
});
after(() => strata?.close());

test('key pairs, addresses and metadata options on PostgreSQL', { skip }, async () => {
  assert.ok(strata);
  const daemon = strata;
  const ec2 = daemon.ec2();
  const settle = () => daemon.cloud.compute.idle();
  const key = await ec2.send(new CreateKeyPairCommand({ KeyName: 'pg-key', KeyType: 'ed25519' }));
  await expectEc2Error(ec2.send(new CreateKeyPairCommand({ KeyName: 'pg-key' })), 'InvalidKeyPair.Duplicate');
  const listed = await ec2.send(
    new DescribeKeyPairsCommand({ Filters: [{ Name: 'key-name', Values: ['pg-*'] }] }),
  );
  assert.deepEqual(
    listed.KeyPairs?.map((k) => k.KeyPairId),
    [key.KeyPairId],
  );
  const imageId = await registerImage(ec2, await snapshotWithData(daemon, ec2, 'pg-keys'));
  const out = await ec2.send(
    new RunInstancesCommand({
      ImageId: imageId,
      MinCount: 2,
      MaxCount: 2,
      KeyName: 'pg-key',
      MetadataOptions: { HttpTokens: 'required' },
    }),
  );
  await settle();
  const [first, second] = out.Instances!.map((i) => i.InstanceId!);
  const described = async (id: string) =>
    (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;
  const a = await described(first!);
  const b = await described(second!);
  assert.equal(a.KeyName, 'pg-key');
  assert.equal(a.MetadataOptions?.HttpTokens, 'required');
  assert.ok(a.PublicIpAddress !== undefined && b.PublicIpAddress !== undefined);
  assert.notEqual(a.PublicIpAddress, b.PublicIpAddress);
  const eip = await ec2.send(new AllocateAddressCommand({}));
  await ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId!, InstanceId: first! }));
  assert.equal((await described(first!)).PublicIpAddress, eip.PublicIp);
  await ec2.send(
    new ModifyInstanceMetadataOptionsCommand({ InstanceId: first!, HttpPutResponseHopLimit: 2 }),
  );
  assert.equal((await described(first!)).MetadataOptions?.HttpPutResponseHopLimit, 2);
  await ec2.send(new StopInstancesCommand({ InstanceIds: [second!] }));
  await settle();
  assert.equal((await described(second!)).PublicIpAddress, undefined);
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [first!, second!] }));
  await settle();
  const [address] = (await ec2.send(new DescribeAddressesCommand({}))).Addresses!;
  assert.equal(address?.InstanceId, undefined);
  await ec2.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId! }));
});
