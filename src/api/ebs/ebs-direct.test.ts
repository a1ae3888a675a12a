// The EBS direct API end to end: @aws-sdk/client-ebs (and one AWS CLI call) against the in-process daemon,
// with blocks landing in and coming from the real block store.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  EBSClient,
  CompleteSnapshotCommand,
  GetSnapshotBlockCommand,
  ListChangedBlocksCommand,
  ListSnapshotBlocksCommand,
  PutSnapshotBlockCommand,
  StartSnapshotCommand,
} from '@aws-sdk/client-ebs';
import {
  CreateSnapshotCommand,
  CreateVolumeCommand,
  DescribeSnapshotsCommand,
  ModifySnapshotAttributeCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { limits } from '../../base/limits.ts';
import type { KeyPair } from '../../cloud/common/accounts.ts';
import { linearChecksums } from '../../cloud/ebs-direct/uploads.ts';
import { startTestDaemon, type TestDaemon } from '../testing/test-daemon.ts';

const B = limits.ebsBlockBytes;
let strata: TestDaemon;
let ebs: EBSClient;
let ec2: EC2Client;
let bob: EBSClient;
let bobAccount: string;

function ebsClient(key: KeyPair): EBSClient {
  return new EBSClient({
    endpoint: strata.endpoint,
    region: strata.region,
    credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
    maxAttempts: 1,
  });
}

before(async () => {
  strata = await startTestDaemon();
  ebs = ebsClient(strata.admin);
  ec2 = strata.ec2();
  const bobKey = await strata.createAccount('bob');
  bobAccount = bobKey.accountId;
  bob = ebsClient(bobKey);
});
after(async () => {
  ebs.destroy();
  bob.destroy();
  await strata.close();
});

const sha = (data: Buffer): string => createHash('sha256').update(data).digest('base64');

async function put(snapshotId: string, index: number, data: Buffer, client = ebs): Promise<void> {
  await client.send(
    new PutSnapshotBlockCommand({
      SnapshotId: snapshotId,
      BlockIndex: index,
      BlockData: data,
      DataLength: data.length,
      Checksum: sha(data),
      ChecksumAlgorithm: 'SHA256',
    }),
  );
}

async function upload(blocks: Map<number, Buffer>, parent?: string, sizeGiB = 1): Promise<string> {
  const started = await ebs.send(
    new StartSnapshotCommand({ VolumeSize: sizeGiB, ParentSnapshotId: parent, Description: 'test upload' }),
  );
  const id = started.SnapshotId ?? assert.fail('no SnapshotId');
  await Promise.all([...blocks].map(([index, data]) => put(id, index, data)));
  const sorted = [...blocks].sort((a, b) => a[0] - b[0]).map(([, data]) => sha(data));
  const done = await ebs.send(
    new CompleteSnapshotCommand({
      SnapshotId: id,
      ChangedBlocksCount: blocks.size,
      Checksum: linearChecksums(sorted)[0],
      ChecksumAlgorithm: 'SHA256',
      ChecksumAggregationMethod: 'LINEAR',
    }),
  );
  assert.equal(done.Status, 'completed');
  return id;
}

async function readAll(snapshotId: string, client = ebs): Promise<Map<number, Buffer>> {
  const listed = await client.send(new ListSnapshotBlocksCommand({ SnapshotId: snapshotId }));
  const result = new Map<number, Buffer>();
  for (const block of listed.Blocks ?? []) {
    const got = await client.send(
      new GetSnapshotBlockCommand({
        SnapshotId: snapshotId,
        BlockIndex: block.BlockIndex,
        BlockToken: block.BlockToken,
      }),
    );
    const data = Buffer.from(await (got.BlockData ?? assert.fail('no data')).transformToByteArray());
    assert.equal(got.Checksum, sha(data), 'x-amz-Checksum is the SHA256 of the block');
    assert.equal(got.DataLength, B);
    result.set(block.BlockIndex ?? -1, data);
  }
  return result;
}

async function expectEbsError(
  promise: Promise<unknown>,
  name: string,
  status: number,
  reason?: string,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    const e = error as { name: string; Reason?: string; $metadata?: { httpStatusCode?: number } };
    assert.equal(e.name, name, String(error));
    assert.equal(e.$metadata?.httpStatusCode, status);
    if (reason !== undefined) assert.equal(e.Reason, reason);
    return true;
  });
}

const blocksA = new Map([
  [0, randomBytes(B)],
  [5, randomBytes(B)],
  [100, randomBytes(B)],
]);
let snapA = '';

test('upload, complete, list and get back byte-identical; DescribeSnapshots shows it pending then completed', async () => {
  const started = await ebs.send(
    new StartSnapshotCommand({ VolumeSize: 1, Tags: [{ Key: 'k', Value: 'v' }] }),
  );
  assert.equal(started.Status, 'pending');
  assert.equal(started.BlockSize, B);
  assert.equal(started.OwnerId, strata.admin.accountId);
  assert.ok(started.StartTime instanceof Date && Math.abs(started.StartTime.getTime() - Date.now()) < 60_000);
  const described = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [started.SnapshotId ?? ''] }));
  assert.equal(described.Snapshots?.[0]?.State, 'pending');
  assert.deepEqual(described.Snapshots?.[0]?.Tags, [{ Key: 'k', Value: 'v' }]);

  snapA = await upload(blocksA);
  const after = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapA] }));
  assert.equal(after.Snapshots?.[0]?.State, 'completed');
  assert.equal(after.Snapshots?.[0]?.VolumeSize, 1);
  const back = await readAll(snapA);
  assert.deepEqual([...back.keys()], [0, 5, 100]);
  for (const [index, data] of blocksA) assert.ok(back.get(index)?.equals(data), `block ${index}`);

  // The AWS CLI speaks the same wire format.
  const cli = await promisify(execFile)(
    'aws',
    [
      'ebs',
      'list-snapshot-blocks',
      '--snapshot-id',
      snapA,
      '--endpoint-url',
      strata.endpoint,
      '--output',
      'json',
    ],
    {
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: strata.admin.accessKeyId,
        AWS_SECRET_ACCESS_KEY: strata.admin.secretAccessKey,
        AWS_DEFAULT_REGION: strata.region,
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      },
    },
  );
  const listed = JSON.parse(cli.stdout) as { Blocks: { BlockIndex: number }[]; BlockSize: number };
  assert.deepEqual(
    listed.Blocks.map((b) => b.BlockIndex),
    [0, 5, 100],
  );
  assert.equal(listed.BlockSize, B);
});

test('incremental upload: ListChangedBlocks names exactly the changed blocks; with only the second, its data blocks', async () => {
  const changes = new Map([
    [5, randomBytes(B)],
    [7, randomBytes(B)],
  ]);
  const snapB = await upload(changes, snapA);
  const changed = await ebs.send(
    new ListChangedBlocksCommand({ FirstSnapshotId: snapA, SecondSnapshotId: snapB }),
  );
  assert.deepEqual(
    changed.ChangedBlocks?.map((b) => [
      b.BlockIndex,
      b.FirstBlockToken !== undefined,
      b.SecondBlockToken !== undefined,
    ]),
    [
      [5, true, true],
      [7, false, true],
    ],
  );
  const alone = await ebs.send(new ListChangedBlocksCommand({ SecondSnapshotId: snapB }));
  assert.deepEqual(
    alone.ChangedBlocks?.map((b) => b.BlockIndex),
    [0, 5, 7, 100],
  );
  const back = await readAll(snapB);
  assert.ok(back.get(0)?.equals(blocksA.get(0) ?? Buffer.alloc(0)), 'inherited block');
  assert.ok(back.get(5)?.equals(changes.get(5) ?? Buffer.alloc(0)), 'rewritten block');
  const first = changed.ChangedBlocks?.[0];
  const old = await ebs.send(
    new GetSnapshotBlockCommand({ SnapshotId: snapA, BlockIndex: 5, BlockToken: first?.FirstBlockToken }),
  );
  assert.ok(
    Buffer.from(await (old.BlockData ?? assert.fail()).transformToByteArray()).equals(
      blocksA.get(5) ?? Buffer.alloc(0),
    ),
  );

  // CreateVolume from the uploaded snapshot; its data is in the store.
  const volume = await ec2.send(
    new CreateVolumeCommand({ SnapshotId: snapB, AvailabilityZone: `${strata.region}a` }),
  );
  await strata.cloud.ebs.idle();
  const data = await strata.cloud.store.read(volume.VolumeId ?? '', 7 * B, B);
  assert.ok(data.equals(changes.get(7) ?? Buffer.alloc(0)));

  // An unrelated snapshot cannot be compared.
  const other = await upload(new Map([[1, randomBytes(B)]]));
  await expectEbsError(
    ebs.send(new ListChangedBlocksCommand({ FirstSnapshotId: other, SecondSnapshotId: snapB })),
    'ValidationException',
    400,
    'UNRELATED_SNAPSHOTS',
  );
});

test('a CreateSnapshot snapshot (written through the store) reads back with GetSnapshotBlock', async () => {
  const volume = await ec2.send(new CreateVolumeCommand({ Size: 1, AvailabilityZone: `${strata.region}a` }));
  const volumeId = volume.VolumeId ?? '';
  await strata.cloud.ebs.idle();
  const data = randomBytes(B);
  await strata.cloud.store.write(volumeId, 3 * B, data);
  const snap = await ec2.send(new CreateSnapshotCommand({ VolumeId: volumeId }));
  await strata.cloud.ebs.idle();
  const back = await readAll(snap.SnapshotId ?? '');
  assert.deepEqual([...back.keys()], [3]);
  assert.ok(back.get(3)?.equals(data));
});

test('bad checksum, out-of-range index, wrong count or aggregate, put after completion: AWS errors', async () => {
  const { SnapshotId: id = '' } = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
  const data = randomBytes(B);
  const badChecksum = ebs.send(
    new PutSnapshotBlockCommand({
      SnapshotId: id,
      BlockIndex: 0,
      BlockData: data,
      DataLength: B,
      Checksum: sha(randomBytes(16)),
      ChecksumAlgorithm: 'SHA256',
    }),
  );
  await expectEbsError(badChecksum, 'ValidationException', 400, 'INVALID_PARAMETER_VALUE');
  await expectEbsError(put(id, 2048, data), 'ValidationException', 400, 'INVALID_BLOCK');
  await put(id, 1, data);
  const complete = (count: number, checksum?: string): Promise<unknown> =>
    ebs.send(
      new CompleteSnapshotCommand({
        SnapshotId: id,
        ChangedBlocksCount: count,
        Checksum: checksum,
        ChecksumAlgorithm: checksum === undefined ? undefined : 'SHA256',
        ChecksumAggregationMethod: checksum === undefined ? undefined : 'LINEAR',
      }),
    );
  await expectEbsError(complete(2), 'ValidationException', 400, 'INVALID_PARAMETER_VALUE');
  await expectEbsError(complete(1, sha(data)), 'ValidationException', 400, 'INVALID_PARAMETER_VALUE');
  await complete(1, linearChecksums([sha(data)])[0]);
  await expectEbsError(put(id, 2, data), 'ValidationException', 400, 'INVALID_SNAPSHOT_ID');
  await expectEbsError(
    ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: 'snap-0123456789abcdef0' })),
    'ResourceNotFoundException',
    404,
    'SNAPSHOT_NOT_FOUND',
  );
});

test('a body shorter than its DataLength, or a DataLength that is no block, is told so', async () => {
  const { SnapshotId: id = '' } = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
  const short = Buffer.from('twenty-nine bytes of a block');
  const send = (data: Buffer, dataLength: number): Promise<unknown> =>
    ebs.send(
      new PutSnapshotBlockCommand({
        SnapshotId: id,
        BlockIndex: 0,
        BlockData: data,
        DataLength: dataLength,
        Checksum: sha(data),
        ChecksumAlgorithm: 'SHA256',
      }),
    );
  await assert.rejects(send(short, B), (error: Error) => {
    assert.equal(error.name, 'ValidationException');
    assert.equal(
      error.message,
      `The body must be one whole block of ${B} bytes, as DataLength says: it has ${short.length} bytes.`,
    );
    return true;
  });
  await assert.rejects(send(short, short.length), (error: Error) => {
    assert.equal(error.message, `DataLength must be the block size, ${B}: got ${short.length}.`);
    return true;
  });
});

test('forged, moved and expired BlockTokens are rejected', async () => {
  const listed = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: snapA }));
  const token = listed.Blocks?.[0]?.BlockToken ?? '';
  const get = (index: number, blockToken: string): Promise<unknown> =>
    ebs.send(new GetSnapshotBlockCommand({ SnapshotId: snapA, BlockIndex: index, BlockToken: blockToken }));
  await expectEbsError(
    get(0, randomBytes(41).toString('base64')),
    'ValidationException',
    400,
    'INVALID_BLOCK_TOKEN',
  );
  await expectEbsError(get(5, token), 'ValidationException', 400, 'INVALID_BLOCK_TOKEN');
  process.env.STRATA_EBS_BLOCK_TOKEN_TTL_SECONDS = '1';
  try {
    const short = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: snapA }));
    assert.ok((short.ExpiryTime?.getTime() ?? 0) - Date.now() <= 1000);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await expectEbsError(
      get(0, short.Blocks?.[0]?.BlockToken ?? ''),
      'ValidationException',
      400,
      'INVALID_BLOCK_TOKEN',
    );
  } finally {
    delete process.env.STRATA_EBS_BLOCK_TOKEN_TTL_SECONDS;
  }
});

test('cross-account: NotFound without createVolumePermission, readable with it, never writable', async () => {
  await expectEbsError(
    bob.send(new ListSnapshotBlocksCommand({ SnapshotId: snapA })),
    'ResourceNotFoundException',
    404,
  );
  const { SnapshotId: pending = '' } = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
  await expectEbsError(put(pending, 0, randomBytes(B), bob), 'ResourceNotFoundException', 404);
  await ec2.send(
    new ModifySnapshotAttributeCommand({
      SnapshotId: snapA,
      Attribute: 'createVolumePermission',
      OperationType: 'add',
      UserIds: [bobAccount],
    }),
  );
  const back = await readAll(snapA, bob);
  assert.ok(back.get(100)?.equals(blocksA.get(100) ?? Buffer.alloc(0)));
});

test('ClientToken: a retry returns the same snapshot, other parameters with the token conflict', async () => {
  const token = `token-${randomBytes(4).toString('hex')}`;
  const first = await ebs.send(new StartSnapshotCommand({ VolumeSize: 2, ClientToken: token }));
  const again = await ebs.send(new StartSnapshotCommand({ VolumeSize: 2, ClientToken: token }));
  assert.equal(again.SnapshotId, first.SnapshotId);
  assert.equal(again.VolumeSize, 2);
  await expectEbsError(
    ebs.send(new StartSnapshotCommand({ VolumeSize: 3, ClientToken: token })),
    'ConflictException',
    409,
  );
});

test('a pending upload survives a restart; one past its Timeout goes to error; no hidden volume is left', async () => {
  const data = randomBytes(B);
  const { SnapshotId: kept = '' } = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
  const { SnapshotId: late = '' } = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Timeout: 10 }));
  await put(kept, 9, data);
  await put(late, 9, data);
  await strata.cloud.db
    .updateTable('ebs_direct_uploads')
    .set({ deadline: new Date(Date.now() - 1000).toISOString() })
    .where('snapshot_id', '=', late)
    .execute();
  await strata.restart();
  await new Promise((resolve) => setTimeout(resolve, 100));
  await expectEbsError(put(late, 10, data), 'ValidationException', 400, 'WRITE_REQUEST_TIMEOUT');
  await put(kept, 10, data);
  await ebs.send(new CompleteSnapshotCommand({ SnapshotId: kept, ChangedBlocksCount: 2 }));
  const described = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [kept, late] }));
  const states = new Map(described.Snapshots?.map((s) => [s.SnapshotId, s.State]));
  assert.equal(states.get(kept), 'completed');
  assert.equal(states.get(late), 'error');
  assert.deepEqual([...(await readAll(kept)).keys()], [9, 10]);
  const hidden = await strata.cloud.db.selectFrom('ebs_direct_uploads').select('volume_id').execute();
  const devices = new Set(strata.cloud.store.devices().map((d) => d.id));
  const pending = await strata.cloud.db
    .selectFrom('ebs_direct_uploads')
    .select('volume_id')
    .where('state', '=', 'pending')
    .execute();
  const leftover = hidden.filter((h) => devices.has(h.volume_id)).map((h) => h.volume_id);
  assert.deepEqual(
    leftover.sort(),
    pending.map((p) => p.volume_id).sort(),
    'only pending uploads keep a volume',
  );
});

test('listings page with MaxResults and NextToken; a forged NextToken is rejected', async () => {
  const volume = await ec2.send(new CreateVolumeCommand({ Size: 1, AvailabilityZone: `${strata.region}a` }));
  const volumeId = volume.VolumeId ?? '';
  await strata.cloud.ebs.idle();
  const written = Array.from({ length: 150 }, (_, i) => i * 3);
  for (const index of written) await strata.cloud.store.write(volumeId, index * B + 512, randomBytes(512));
  const { SnapshotId: snap = '' } = await ec2.send(new CreateSnapshotCommand({ VolumeId: volumeId }));
  await strata.cloud.ebs.idle();
  const first = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: snap, MaxResults: 100 }));
  assert.equal(first.Blocks?.length, 100);
  assert.ok(first.NextToken !== undefined);
  const second = await ebs.send(
    new ListSnapshotBlocksCommand({ SnapshotId: snap, MaxResults: 100, NextToken: first.NextToken }),
  );
  assert.equal(second.NextToken, undefined);
  assert.deepEqual(
    [...(first.Blocks ?? []), ...(second.Blocks ?? [])].map((b) => b.BlockIndex),
    written,
  );
  const from = await ebs.send(
    new ListChangedBlocksCommand({ SecondSnapshotId: snap, StartingBlockIndex: 400 }),
  );
  assert.deepEqual(
    from.ChangedBlocks?.map((b) => b.BlockIndex),
    written.filter((i) => i >= 400),
  );
  await expectEbsError(
    ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: snap, NextToken: 'bm90LWEtdG9rZW4' })),
    'ValidationException',
    400,
    'INVALID_PAGE_TOKEN',
  );
  // Two CreateSnapshot snapshots of one volume are one lineage: the diff is exactly the blocks rewritten.
  for (const index of [3, 1000]) await strata.cloud.store.write(volumeId, index * B, randomBytes(4096));
  const { SnapshotId: later = '' } = await ec2.send(new CreateSnapshotCommand({ VolumeId: volumeId }));
  await strata.cloud.ebs.idle();
  const diff = await ebs.send(
    new ListChangedBlocksCommand({ FirstSnapshotId: snap, SecondSnapshotId: later }),
  );
  assert.deepEqual(
    diff.ChangedBlocks?.map((b) => [b.BlockIndex, b.FirstBlockToken !== undefined]),
    [
      [3, true],
      [1000, false],
    ],
  );
});
