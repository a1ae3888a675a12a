// EBS encryption defaults through the AWS SDK: Get/Enable/DisableEbsEncryptionByDefault,
// Get/Modify/ResetEbsDefaultKmsKeyId, and the key new volumes and snapshot copies report. No data is
// encrypted at rest; these tests pin the API behaviour tools depend on.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CopySnapshotCommand,
  CreateVolumeCommand,
  DisableEbsEncryptionByDefaultCommand,
  EnableEbsEncryptionByDefaultCommand,
  GetEbsDefaultKmsKeyIdCommand,
  GetEbsEncryptionByDefaultCommand,
  ModifyEbsDefaultKmsKeyIdCommand,
  ResetEbsDefaultKmsKeyIdCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { startTestDaemon, type TestDaemon } from '../../testing/test-daemon.ts';
import { expectEc2Error } from './ebs-test-helpers.ts';
import { snapshotWithData } from './compute-test-helpers.ts';

let strata: TestDaemon;
let ec2: EC2Client;
let zone: string;

before(async () => {
  strata = await startTestDaemon();
  ec2 = strata.ec2();
  zone = `${strata.region}a`;
});
after(() => strata.close());

async function volume(input: { Encrypted?: boolean; KmsKeyId?: string } = {}) {
  return ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, Size: 1, ...input }));
}

test('Encrypted without KmsKeyId reports the account default key ARN, the same every time', async () => {
  const { accountId } = strata.admin;
  const defaults = await ec2.send(new GetEbsDefaultKmsKeyIdCommand({}));
  assert.equal(defaults.KmsKeyId, `arn:aws:kms:${strata.region}:${accountId}:alias/aws/ebs`);
  const first = await volume({ Encrypted: true });
  const second = await volume({ Encrypted: true });
  assert.equal(first.Encrypted, true);
  assert.match(
    first.KmsKeyId ?? '',
    new RegExp(`^arn:aws:kms:${strata.region}:${accountId}:key/[0-9a-f-]{36}$`),
  );
  assert.equal(second.KmsKeyId, first.KmsKeyId);
  const plain = await volume();
  assert.equal(plain.Encrypted, false);
  assert.equal(plain.KmsKeyId, undefined);
  const own = await volume({ Encrypted: true, KmsKeyId: 'alias/mine' });
  assert.equal(own.KmsKeyId, 'alias/mine');
});

test('encryption by default: on, new volumes are encrypted; off again; per account', async () => {
  assert.equal((await ec2.send(new GetEbsEncryptionByDefaultCommand({}))).EbsEncryptionByDefault, false);
  await expectEc2Error(
    ec2.send(new EnableEbsEncryptionByDefaultCommand({ DryRun: true })),
    'DryRunOperation',
  );
  assert.equal((await ec2.send(new GetEbsEncryptionByDefaultCommand({}))).EbsEncryptionByDefault, false);
  const enabled = await ec2.send(new EnableEbsEncryptionByDefaultCommand({}));
  assert.equal(enabled.EbsEncryptionByDefault, true);
  assert.equal((await ec2.send(new GetEbsEncryptionByDefaultCommand({}))).EbsEncryptionByDefault, true);
  const byDefault = await volume();
  assert.equal(byDefault.Encrypted, true);
  assert.match(byDefault.KmsKeyId ?? '', /:key\//);
  const bob = strata.ec2(await strata.createAccount());
  assert.equal((await bob.send(new GetEbsEncryptionByDefaultCommand({}))).EbsEncryptionByDefault, false);
  const disabled = await ec2.send(new DisableEbsEncryptionByDefaultCommand({}));
  assert.equal(disabled.EbsEncryptionByDefault, false);
  assert.equal((await volume()).Encrypted, false);
});

test('ModifyEbsDefaultKmsKeyId changes the key new encrypted volumes report; Reset goes back', async () => {
  const { accountId } = strata.admin;
  const modified = await ec2.send(new ModifyEbsDefaultKmsKeyIdCommand({ KmsKeyId: 'alias/team-key' }));
  const arn = `arn:aws:kms:${strata.region}:${accountId}:alias/team-key`;
  assert.equal(modified.KmsKeyId, arn);
  assert.equal((await ec2.send(new GetEbsDefaultKmsKeyIdCommand({}))).KmsKeyId, arn);
  assert.equal((await volume({ Encrypted: true })).KmsKeyId, arn);
  const keyId = '1234abcd-12ab-34cd-56ef-1234567890ab';
  const byId = await ec2.send(new ModifyEbsDefaultKmsKeyIdCommand({ KmsKeyId: keyId }));
  assert.equal(byId.KmsKeyId, `arn:aws:kms:${strata.region}:${accountId}:key/${keyId}`);
  await expectEc2Error(
    ec2.send(new ModifyEbsDefaultKmsKeyIdCommand({ KmsKeyId: 'not a key' })),
    'InvalidParameterValue',
  );
  const reset = await ec2.send(new ResetEbsDefaultKmsKeyIdCommand({}));
  assert.equal(reset.KmsKeyId, `arn:aws:kms:${strata.region}:${accountId}:alias/aws/ebs`);
  assert.match((await volume({ Encrypted: true })).KmsKeyId ?? '', /:key\/[0-9a-f-]{36}$/);
});

test('CopySnapshot: KmsKeyId without Encrypted is refused; Encrypted alone reports the default key', async () => {
  const source = await snapshotWithData(strata, ec2, 'copy-me');
  const copy = (input: { Encrypted?: boolean; KmsKeyId?: string }) =>
    ec2.send(new CopySnapshotCommand({ SourceRegion: strata.region, SourceSnapshotId: source, ...input }));
  await assert.rejects(copy({ KmsKeyId: 'alias/team-key' }), (error: Error) => {
    assert.equal(error.name, 'InvalidParameterDependency');
    assert.match(error.message, /KmsKeyId requires the parameter Encrypted/);
    return true;
  });
  const encrypted = await copy({ Encrypted: true });
  const described = await strata.cloud.ebs.snapshots.describe(strata.admin.accountId, {
    snapshotIds: [encrypted.SnapshotId!],
    ownerIds: [],
    restorableByUserIds: [],
    filters: [],
    maxResults: undefined,
    nextToken: undefined,
  });
  const row = described.items[0]?.row;
  assert.equal(row?.encrypted, 1);
  assert.match(row?.kms_key_id ?? '', /^arn:aws:kms:.*:key\/[0-9a-f-]{36}$/);
});
