// Issue #5 "seen from inside": the same bytes through NBD, the EC2 API, the EBS direct API,
// `strata snapshot download` and the stock AWS CLI, on one daemon. ListChangedBlocks is checked against a
// model of random 512 KiB-block writes across several snapshots of one lineage and a clone.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../../base/prng.ts';
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, openSync, readSync, closeSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  EBSClient,
  GetSnapshotBlockCommand,
  ListChangedBlocksCommand,
  ListSnapshotBlocksCommand,
  type ChangedBlock,
} from '@aws-sdk/client-ebs';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { limits } from '../../base/limits.ts';
import { startTestDaemon, type TestDaemon } from '../testing/test-daemon.ts';
import {
  createSnapshot,
  createVolume,
  nbdRead,
  qemuIo,
  run,
  waitAvailable,
  waitCompleted,
} from '../ec2/actions/ebs-data-helpers.ts';

const B = limits.ebsBlockBytes;
const MiB = 1024 * 1024;
const execFileAsync = promisify(execFile);
const strataBin = fileURLToPath(new URL('../../../bin/strata', import.meta.url));
let strata: TestDaemon;
let ec2: EC2Client;
let ebs: EBSClient;
let work: string;

before(async () => {
  strata = await startTestDaemon();
  ec2 = strata.ec2();
  ebs = new EBSClient({
    endpoint: strata.endpoint,
    region: strata.region,
    credentials: { accessKeyId: strata.admin.accessKeyId, secretAccessKey: strata.admin.secretAccessKey },
    maxAttempts: 1,
  });
  work = mkdtempSync(join(tmpdir(), 'strata-data-path-'));
});
after(async () => {
  ebs.destroy();
  await strata.close();
  rmSync(work, { recursive: true, force: true });
});

const uri = (id: string): string => strata.cloud.nbd.uri(id);
const userEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  AWS_ACCESS_KEY_ID: strata.admin.accessKeyId,
  AWS_SECRET_ACCESS_KEY: strata.admin.secretAccessKey,
  AWS_REGION: strata.region,
  AWS_DEFAULT_REGION: strata.region,
  AWS_CONFIG_FILE: join(work, 'no-config'),
  AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-credentials'),
});

/** Block index → write version; a snapshot's model is a frozen copy. */
type Model = Map<number, number>;
const patternOf = (version: number): number => (version % 254) + 1;

async function listChanged(
  first: string | undefined,
  second: string,
): Promise<{ blocks: ChangedBlock[]; pages: number }> {
  const blocks: ChangedBlock[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await ebs.send(
      new ListChangedBlocksCommand({
        FirstSnapshotId: first,
        SecondSnapshotId: second,
        MaxResults: 100,
        NextToken: token,
      }),
    );
    blocks.push(...(page.ChangedBlocks ?? []));
    token = page.NextToken;
    pages++;
  } while (token);
  return { blocks, pages };
}

async function getBlock(snapshotId: string, index: number, token: string): Promise<Buffer> {
  const out = await ebs.send(
    new GetSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: index, BlockToken: token }),
  );
  const data = Buffer.from((await out.BlockData?.transformToByteArray()) ?? []);
  assert.equal(
    out.Checksum,
    createHash('sha256').update(data).digest('base64'),
    `checksum of block ${index}`,
  );
  return data;
}

test('ListChangedBlocks (paged) equals the model of random block writes across snapshots and a clone', async (t) => {
  const seed = Number(process.env.STRATA_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
  t.diagnostic(`seed ${seed} (replay with STRATA_TEST_SEED=${seed})`);
  const random = seededRandom(seed);
  let version = 0;
  // One qemu-io connection per round writes 60–160 random blocks among the first 400, so rounds overlap.
  async function writeRound(volumeId: string, model: Model): Promise<void> {
    const count = 60 + Math.floor(random() * 100);
    const commands: string[] = [];
    for (let i = 0; i < count; i++) {
      const index = Math.floor(random() * 400);
      model.set(index, ++version);
      commands.push(`write -P ${patternOf(version)} ${index * B} ${B}`);
    }
    await qemuIo(uri(volumeId), commands);
  }
  const volume = await createVolume(ec2);
  const live: Model = new Map();
  const snaps: { id: string; model: Model }[] = [];
  for (let round = 0; round < 4; round++) {
    await writeRound(volume, live);
    snaps.push({ id: await createSnapshot(ec2, volume), model: new Map(live) });
  }
  const clone = await createVolume(ec2, { SnapshotId: snaps[2]!.id });
  const cloneModel = new Map(snaps[2]!.model);
  await writeRound(clone, cloneModel);
  snaps.push({ id: await createSnapshot(ec2, clone), model: cloneModel });

  const pairs: [number | undefined, number][] = [
    [0, 1],
    [0, 3],
    [1, 3],
    [2, 4],
    [0, 4],
    [3, 4],
    [undefined, 3],
    [undefined, 4],
  ];
  let multiPage = false;
  for (const [a, b] of pairs) {
    const first = a === undefined ? undefined : snaps[a]!;
    const second = snaps[b]!;
    const expected = [...new Set([...(first?.model.keys() ?? []), ...second.model.keys()])]
      .filter((i) => first?.model.get(i) !== second.model.get(i))
      .sort((x, y) => x - y)
      .map((i) => ({ index: i, first: first?.model.has(i) ?? false, second: second.model.has(i) }));
    const { blocks, pages } = await listChanged(first?.id, second.id);
    multiPage ||= pages > 1;
    const actual = blocks.map((c) => ({
      index: c.BlockIndex,
      first: c.FirstBlockToken !== undefined,
      second: c.SecondBlockToken !== undefined,
    }));
    assert.deepEqual(actual, expected, `ListChangedBlocks ${a ?? '-'} → ${b}`);
    // Spot-check the data behind the tokens against the model's write versions.
    for (const c of blocks.filter((_, i) => i % 17 === 0)) {
      const [side, token] = c.SecondBlockToken ? [second, c.SecondBlockToken] : [first!, c.FirstBlockToken!];
      const data = await getBlock(side.id, c.BlockIndex!, token);
      assert.ok(
        data.equals(Buffer.alloc(B, patternOf(side.model.get(c.BlockIndex!)!))),
        `block ${c.BlockIndex}`,
      );
    }
  }
  assert.ok(multiPage, 'some listing spans several pages');
});

test('bytes written over NBD are identical through snapshot, clone, GetSnapshotBlock and strata snapshot download', async () => {
  const golden = randomBytes(3 * MiB); // blocks 0–5
  const volume = await createVolume(ec2);
  const file = join(work, 'golden.raw');
  writeFileSync(file, golden);
  await run('nbdcopy', [file, uri(volume)]);
  await qemuIo(uri(volume), ['write -P 0x42 700M 512k']); // block 1400
  const snap = await createSnapshot(ec2, volume);
  // Written after the snapshot: must never show up in it or in anything made from it.
  await qemuIo(uri(volume), ['write -P 0xee 0 64k', 'write -P 0xee 900M 512k']);

  const clone = await createVolume(ec2, { SnapshotId: snap });
  for (const id of [snap, clone]) {
    assert.ok((await nbdRead(uri(id), 0, golden.length)).equals(golden), `${id} over NBD`);
    await qemuIo(uri(id), ['read -P 0x42 700M 512k', 'read -P 0 900M 512k']);
  }
  const cloneSnap = await createSnapshot(ec2, clone);

  for (const id of [snap, cloneSnap]) {
    const listed = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: id }));
    const indices = listed.Blocks?.map((b) => b.BlockIndex);
    assert.deepEqual(indices, [0, 1, 2, 3, 4, 5, (700 * MiB) / B], `${id} lists exactly the written blocks`);
    const blocks = await Promise.all(listed.Blocks!.map((b) => getBlock(id, b.BlockIndex!, b.BlockToken!)));
    assert.ok(Buffer.concat(blocks.slice(0, 6)).equals(golden), `${id} through GetSnapshotBlock`);
    assert.ok(blocks[6]!.equals(Buffer.alloc(B, 0x42)));

    const out = join(work, `${id}.raw`);
    await execFileAsync(strataBin, ['snapshot', 'download', id, out, '--endpoint-url', strata.endpoint], {
      env: userEnv(),
    });
    assert.equal(statSync(out).size, 1024 * MiB);
    const read = (offset: number, length: number): Buffer => {
      const buffer = Buffer.alloc(length);
      const fd = openSync(out, 'r');
      readSync(fd, buffer, 0, length, offset);
      closeSync(fd);
      return buffer;
    };
    assert.ok(read(0, golden.length).equals(golden), `${id} downloaded`);
    assert.ok(read(700 * MiB, B).equals(Buffer.alloc(B, 0x42)));
    assert.ok(read(900 * MiB, B).equals(Buffer.alloc(B)), 'the post-snapshot write is not in the download');
    rmSync(out);
  }
});

test('the stock AWS CLI runs the seed flow: create-volume, create-snapshot, describe, clone, list-snapshot-blocks', async () => {
  // The same command lines a user types (see README); `--endpoint-url` because Debian's CLI 2.9 ignores
  // endpoint_url in the config.
  const aws = async (line: string): Promise<string> => {
    const args = [...line.split(' '), '--endpoint-url', strata.endpoint];
    return (await execFileAsync('aws', args, { env: userEnv() })).stdout.trim();
  };
  const volume = await aws(
    'ec2 create-volume --availability-zone us-east-1a --size 1 --query VolumeId --output text',
  );
  assert.match(volume, /^vol-[0-9a-f]{17}$/);
  await waitAvailable(ec2, [volume]);
  await qemuIo(uri(volume), ['write -P 0xab 0 1M']);
  const snap = await aws(
    `ec2 create-snapshot --volume-id ${volume} --description golden --query SnapshotId --output text`,
  );
  assert.match(snap, /^snap-[0-9a-f]{17}$/);
  await waitCompleted(ec2, snap);
  const described = JSON.parse(
    await aws(`ec2 describe-snapshots --owner-ids self --snapshot-ids ${snap} --output json`),
  ) as { Snapshots: { SnapshotId: string; VolumeId: string; State: string; Description: string }[] };
  assert.deepEqual(
    described.Snapshots.map((s) => [s.SnapshotId, s.VolumeId, s.State, s.Description]),
    [[snap, volume, 'completed', 'golden']],
  );
  const clone = await aws(
    `ec2 create-volume --availability-zone us-east-1a --snapshot-id ${snap} --query VolumeId --output text`,
  );
  assert.match(clone, /^vol-[0-9a-f]{17}$/);
  await waitAvailable(ec2, [clone]);
  await qemuIo(uri(clone), ['read -P 0xab 0 1M', 'read -P 0 1M 1M']);
  const blocks = JSON.parse(await aws(`ebs list-snapshot-blocks --snapshot-id ${snap} --output json`)) as {
    Blocks: { BlockIndex: number }[];
    BlockSize: number;
    VolumeSize: number;
  };
  assert.deepEqual(
    blocks.Blocks.map((b) => b.BlockIndex),
    [0, 1],
    'the 1 MiB written over NBD is blocks 0 and 1',
  );
  assert.equal(blocks.BlockSize, B);
  assert.equal(blocks.VolumeSize, 1);
});
