// Key pairs through the AWS SDK and the AWS CLI against an in-process daemon: created keys that ssh-keygen
// accepts, EC2's fingerprints recomputed with ssh-keygen and openssl, imports, filters, deletion, errors,
// account isolation, and KeyName on RunInstances and DescribeInstances.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CreateKeyPairCommand,
  CreateTagsCommand,
  DeleteKeyPairCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  ImportKeyPairCommand,
  RunInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { startTestDaemon, type TestDaemon } from '../../testing/test-daemon.ts';
import { expectEc2Error } from './ebs-test-helpers.ts';
import { registerImage, snapshotWithData } from './compute-test-helpers.ts';

const run = promisify(execFile);
let strata: TestDaemon;
let ec2: EC2Client;
let dir: string;

before(async () => {
  strata = await startTestDaemon();
  ec2 = strata.ec2();
  dir = await mkdtemp(join(tmpdir(), 'strata-keys-'));
});
after(async () => {
  await strata.close();
  await rm(dir, { recursive: true, force: true });
});

async function sh(command: string): Promise<string> {
  return (await run('bash', ['-c', command], { cwd: dir })).stdout;
}

async function savePrivateKey(name: string, material: string): Promise<string> {
  const path = join(dir, `${name}.pem`);
  await writeFile(path, material, { mode: 0o600 });
  return path;
}

async function publicKeyOf(name: string): Promise<string> {
  const { KeyPairs } = await ec2.send(
    new DescribeKeyPairsCommand({ KeyNames: [name], IncludePublicKey: true }),
  );
  assert.equal(KeyPairs?.length, 1);
  return KeyPairs![0]!.PublicKey!;
}

test('CreateKeyPair rsa: PKCS#1 PEM that ssh-keygen reads, fingerprint = SHA-1 of the DER PKCS#8 key', async () => {
  const out = await ec2.send(new CreateKeyPairCommand({ KeyName: 'rsa-made' }));
  assert.match(out.KeyPairId ?? '', /^key-[0-9a-f]{17}$/);
  assert.match(out.KeyMaterial ?? '', /^-----BEGIN RSA PRIVATE KEY-----\n/);
  const path = await savePrivateKey('rsa-made', out.KeyMaterial!);
  const derived = (await sh(`ssh-keygen -y -f ${path}`)).trim();
  const stored = await publicKeyOf('rsa-made');
  assert.equal(stored.split(' ').slice(0, 2).join(' '), derived.split(' ').slice(0, 2).join(' '));
  assert.match(stored, /^ssh-rsa \S+ rsa-made$/);
  const openssl = await sh(`openssl pkcs8 -topk8 -nocrypt -in ${path} -outform DER | openssl sha1 -c`);
  assert.equal(out.KeyFingerprint, /([0-9a-f]{2}(:[0-9a-f]{2}){19})/.exec(openssl)?.[1]);
  assert.equal(
    (await sh(`openssl rsa -in ${path} -noout -text | head -1`)).trim(),
    'Private-Key: (2048 bit, 2 primes)',
  );
});

test('CreateKeyPair ed25519: OpenSSH private key, fingerprint = base64 SHA-256 as ssh-keygen -l', async () => {
  const out = await ec2.send(new CreateKeyPairCommand({ KeyName: 'ed-made', KeyType: 'ed25519' }));
  assert.match(out.KeyMaterial ?? '', /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
  const path = await savePrivateKey('ed-made', out.KeyMaterial!);
  const derived = (await sh(`ssh-keygen -y -f ${path}`)).trim();
  assert.equal((await publicKeyOf('ed-made')).split(' ')[1], derived.split(' ')[1]);
  const listed = await sh(`ssh-keygen -l -E sha256 -f ${path}`);
  const sha256 = /SHA256:([A-Za-z0-9+/]+)/.exec(listed)?.[1];
  assert.ok(sha256, listed);
  assert.equal(out.KeyFingerprint, `${sha256}=`, 'EC2 keeps base64 padding');
});

test('CreateKeyPair errors: duplicate, bad type, ppk, missing or bad name', async () => {
  await ec2.send(new CreateKeyPairCommand({ KeyName: 'dup' }));
  await expectEc2Error(
    ec2.send(new CreateKeyPairCommand({ KeyName: 'dup', KeyType: 'ed25519' })),
    'InvalidKeyPair.Duplicate',
  );
  await expectEc2Error(
    ec2.send(new CreateKeyPairCommand({ KeyName: 'x', KeyType: 'dsa' as 'rsa' })),
    'InvalidParameterValue',
  );
  await expectEc2Error(
    ec2.send(new CreateKeyPairCommand({ KeyName: 'x', KeyFormat: 'ppk' })),
    'UnsupportedOperation',
  );
  await expectEc2Error(ec2.send(new CreateKeyPairCommand({ KeyName: '' })), 'MissingParameter');
  await expectEc2Error(ec2.send(new CreateKeyPairCommand({ KeyName: 'é' })), 'InvalidParameterValue');
  await expectEc2Error(
    ec2.send(new CreateKeyPairCommand({ KeyName: 'dry', DryRun: true })),
    'DryRunOperation',
  );
  await expectEc2Error(
    ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['dry'] })),
    'InvalidKeyPair.NotFound',
  );
});

test('ImportKeyPair: ssh-keygen keys, RSA fingerprint = MD5 of the DER public key, ed25519 = SHA-256', async () => {
  await sh(
    'ssh-keygen -q -t rsa -b 3072 -N "" -C me@host -f imp-rsa && ssh-keygen -q -t ed25519 -N "" -f imp-ed',
  );
  const rsa = await ec2.send(
    new ImportKeyPairCommand({
      KeyName: 'imp-rsa',
      PublicKeyMaterial: await readFile(join(dir, 'imp-rsa.pub')),
    }),
  );
  const md5 = await sh(
    'ssh-keygen -e -m PKCS8 -f imp-rsa.pub | openssl pkey -pubin -outform DER | openssl md5 -c',
  );
  assert.equal(rsa.KeyFingerprint, /([0-9a-f]{2}(:[0-9a-f]{2}){15})/.exec(md5)?.[1]);
  assert.match(rsa.KeyPairId ?? '', /^key-[0-9a-f]{17}$/);
  const ed = await ec2.send(
    new ImportKeyPairCommand({
      KeyName: 'imp-ed',
      PublicKeyMaterial: await readFile(join(dir, 'imp-ed.pub')),
    }),
  );
  const sha256 = /SHA256:([A-Za-z0-9+/]+)/.exec(await sh('ssh-keygen -l -E sha256 -f imp-ed.pub'))?.[1];
  assert.equal(ed.KeyFingerprint, `${sha256}=`);
  const original = (await readFile(join(dir, 'imp-ed.pub'), 'utf8')).split(' ')[1];
  assert.equal((await publicKeyOf('imp-ed')).split(' ')[1], original);
  await sh('ssh-keygen -q -t rsa -b 1024 -N "" -f weak && ssh-keygen -q -t ecdsa -N "" -f ecdsa');
  for (const [name, material] of [
    ['weak', await readFile(join(dir, 'weak.pub'))],
    ['ecdsa', await readFile(join(dir, 'ecdsa.pub'))],
    ['junk', Buffer.from('ssh-rsa AAAAnot-a-key me')],
    ['empty-ish', Buffer.from(' ')],
  ] as const) {
    await expectEc2Error(
      ec2.send(new ImportKeyPairCommand({ KeyName: name, PublicKeyMaterial: material })),
      'InvalidKey.Format',
    );
  }
  await expectEc2Error(
    ec2.send(
      new ImportKeyPairCommand({
        KeyName: 'imp-ed',
        PublicKeyMaterial: await readFile(join(dir, 'imp-ed.pub')),
      }),
    ),
    'InvalidKeyPair.Duplicate',
  );
});

test('DescribeKeyPairs: names, ids, filters, tags, CreateTime; DeleteKeyPair by name and id', async () => {
  const made = await ec2.send(
    new CreateKeyPairCommand({
      KeyName: 'tagged',
      KeyType: 'ed25519',
      TagSpecifications: [{ ResourceType: 'key-pair', Tags: [{ Key: 'team', Value: 'blue' }] }],
    }),
  );
  assert.deepEqual(made.Tags, [{ Key: 'team', Value: 'blue' }]);
  const byId = await ec2.send(new DescribeKeyPairsCommand({ KeyPairIds: [made.KeyPairId!] }));
  const info = byId.KeyPairs?.[0];
  assert.equal(info?.KeyName, 'tagged');
  assert.equal(info?.KeyType, 'ed25519');
  assert.equal(info?.PublicKey, undefined, 'the public key only when asked for');
  assert.ok(info?.CreateTime instanceof Date && Date.now() - info.CreateTime.getTime() < 60_000);
  const names = async (filters: { Name: string; Values: string[] }[]) =>
    ((await ec2.send(new DescribeKeyPairsCommand({ Filters: filters }))).KeyPairs ?? []).map(
      (k) => k.KeyName,
    );
  assert.deepEqual(await names([{ Name: 'tag:team', Values: ['blue'] }]), ['tagged']);
  assert.deepEqual(await names([{ Name: 'fingerprint', Values: [made.KeyFingerprint!] }]), ['tagged']);
  assert.deepEqual(await names([{ Name: 'key-pair-id', Values: [made.KeyPairId!] }]), ['tagged']);
  assert.deepEqual(await names([{ Name: 'key-name', Values: ['tag*'] }]), ['tagged']);
  await ec2.send(
    new CreateTagsCommand({ Resources: [made.KeyPairId!], Tags: [{ Key: 'env', Value: 'dev' }] }),
  );
  assert.deepEqual(await names([{ Name: 'tag:env', Values: ['dev'] }]), ['tagged']);
  await expectEc2Error(
    ec2.send(new DescribeKeyPairsCommand({ Filters: [{ Name: 'bogus', Values: ['x'] }] })),
    'InvalidParameterValue',
  );
  await expectEc2Error(
    ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['nope'] })),
    'InvalidKeyPair.NotFound',
  );
  await expectEc2Error(
    ec2.send(new DescribeKeyPairsCommand({ KeyPairIds: ['key-0123456789abcdef0'] })),
    'InvalidKeyPair.NotFound',
  );

  const deleted = await ec2.send(new DeleteKeyPairCommand({ KeyPairId: made.KeyPairId! }));
  assert.equal(deleted.KeyPairId, made.KeyPairId);
  await expectEc2Error(
    ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['tagged'] })),
    'InvalidKeyPair.NotFound',
  );
  await ec2.send(new CreateKeyPairCommand({ KeyName: 'by-name' }));
  await ec2.send(new DeleteKeyPairCommand({ KeyName: 'by-name' }));
  await ec2.send(new DeleteKeyPairCommand({ KeyName: 'by-name' }));
  await expectEc2Error(ec2.send(new DeleteKeyPairCommand({})), 'MissingParameter');
});

test('key pairs are per account: another account neither sees nor deletes them, and may reuse the name', async () => {
  await ec2.send(new CreateKeyPairCommand({ KeyName: 'mine' }));
  const bob = strata.ec2(await strata.createAccount('bob-keys'));
  await expectEc2Error(
    bob.send(new DescribeKeyPairsCommand({ KeyNames: ['mine'] })),
    'InvalidKeyPair.NotFound',
  );
  assert.deepEqual((await bob.send(new DescribeKeyPairsCommand({}))).KeyPairs ?? [], []);
  await bob.send(new DeleteKeyPairCommand({ KeyName: 'mine' }));
  assert.equal((await ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['mine'] }))).KeyPairs?.length, 1);
  await bob.send(new CreateKeyPairCommand({ KeyName: 'mine' }));
});

test('AWS CLI: create-key-pair --query KeyMaterial --output text > key.pem, and wait key-pair-exists', async () => {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: dir,
    AWS_ACCESS_KEY_ID: strata.admin.accessKeyId,
    AWS_SECRET_ACCESS_KEY: strata.admin.secretAccessKey,
    AWS_DEFAULT_REGION: strata.region,
  };
  const aws = `aws --endpoint-url ${strata.endpoint} ec2`;
  await run(
    'bash',
    ['-c', `${aws} create-key-pair --key-name cli-key --query KeyMaterial --output text > cli.pem`],
    {
      cwd: dir,
      env,
    },
  );
  await run('bash', ['-c', `${aws} wait key-pair-exists --key-names cli-key`], { cwd: dir, env });
  await run('chmod', ['600', join(dir, 'cli.pem')]);
  const derived = (await sh('ssh-keygen -y -f cli.pem')).trim();
  assert.equal((await publicKeyOf('cli-key')).split(' ')[1], derived.split(' ')[1]);
});

test('RunInstances KeyName: unknown is InvalidKeyPair.NotFound; DescribeInstances shows KeyName and filters key-name', async () => {
  const imageId = await registerImage(ec2, await snapshotWithData(strata, ec2, 'KEYS'));
  await expectEc2Error(
    ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, KeyName: 'no-such-key' })),
    'InvalidKeyPair.NotFound',
  );
  await ec2.send(new CreateKeyPairCommand({ KeyName: 'launch-key', KeyType: 'ed25519' }));
  const out = await ec2.send(
    new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, KeyName: 'launch-key' }),
  );
  const instanceId = out.Instances![0]!.InstanceId!;
  assert.equal(out.Instances![0]!.KeyName, 'launch-key');
  await strata.cloud.compute.idle();
  const found = await ec2.send(
    new DescribeInstancesCommand({ Filters: [{ Name: 'key-name', Values: ['launch-key'] }] }),
  );
  assert.deepEqual(
    found.Reservations?.flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId),
    [instanceId],
  );
  await ec2.send(new DeleteKeyPairCommand({ KeyName: 'launch-key' }));
  const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  assert.equal(
    described.Reservations?.[0]?.Instances?.[0]?.KeyName,
    'launch-key',
    'kept after the key pair goes',
  );
});
