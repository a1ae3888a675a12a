// Issue 12's repros as regression tests: request targets that once stopped the daemon (raw sockets), a bad
// percent-encoding in an EBS direct path (signed), and control characters in free text (SDK and AWS CLI),
// including text that is already in the database.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { EBSClient, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import {
  CreateSnapshotCommand,
  CreateTagsCommand,
  CreateVolumeCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { expectEc2Error } from './ec2/actions/ebs-test-helpers.ts';
import { healthPath } from './api-server.ts';
import { rawHttp } from './testing/raw-http.ts';
import { signedRequest } from './testing/signed-request.ts';
import { startTestDaemon, type TestDaemon } from './testing/test-daemon.ts';
import { xmlUnsafeCharacter } from './xml-chars.ts';

let strata: TestDaemon;
let ec2: EC2Client;
let port: number;
before(async () => {
  strata = await startTestDaemon();
  ec2 = strata.ec2();
  port = Number(new URL(strata.endpoint).port);
});
after(() => strata.close());

async function healthy(): Promise<void> {
  const res = await fetch(`${strata.endpoint}${healthPath}`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'ok\n');
}

test('request targets that once stopped the daemon are answered 4xx in the EC2 shape', async () => {
  const targets = ['//', '//[::1', '//:99999', '//%zz', '//%1-s', 'http://[::1/', '*', 'x:1', '/%zz?%zz=%'];
  for (const target of targets) {
    for (const method of ['GET', 'POST', 'OPTIONS']) {
      const request = `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`;
      const exchange = await rawHttp(port, request, { timeoutMs: 10_000 });
      const response = exchange.responses[0];
      assert.ok(response, `${method} ${target}: no response`);
      assert.ok(response.status >= 400 && response.status < 500, `${method} ${target}: ${response.status}`);
      if (response.body.length > 0) {
        assert.equal(response.headers.get('content-type'), 'text/xml;charset=UTF-8', target);
        assert.equal(XMLValidator.validate(response.body.toString('utf8')), true, target);
        assert.match(response.body.toString('utf8'), /<Response><Errors><Error><Code>\w+<\/Code>/);
      }
      await healthy();
    }
  }
});

test('a malformed percent-encoding in a signed EBS direct path is a 400 ValidationException', async () => {
  for (const path of ['/snapshots/%E0%A4%A/blocks', '/snapshots/snap-1/blocks/%zz', '/snapshots/%FF']) {
    const res = await signedRequest(strata.endpoint, strata.admin, {
      method: 'GET',
      path,
      service: 'ebs',
      region: strata.region,
    });
    assert.equal(res.status, 400, `${path}: ${res.body}`);
    assert.equal(res.headers['x-amzn-errortype'], 'ValidationException');
    const body = JSON.parse(res.body) as { message: string };
    assert.match(body.message, /percent-encoded/);
  }
  await healthy();
});

test('control characters in tags and descriptions are refused with EC2 and EBS errors', async () => {
  const volume = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${strata.region}a`, Size: 1 }));
  const volumeId = volume.VolumeId ?? '';
  for (const tag of [
    { Key: 'a\x01b', Value: 'v' },
    { Key: 'k', Value: 'nul\0' },
  ]) {
    await expectEc2Error(
      ec2.send(new CreateTagsCommand({ Resources: [volumeId], Tags: [tag] })),
      'InvalidParameterValue',
    );
  }
  await strata.cloud.ebs.idle();
  await expectEc2Error(
    ec2.send(new CreateSnapshotCommand({ VolumeId: volumeId, Description: 'bad\0description' })),
    'InvalidParameterValue',
  );
  const ebs = new EBSClient({
    endpoint: strata.endpoint,
    region: strata.region,
    credentials: strata.admin,
    maxAttempts: 1,
  });
  try {
    await assert.rejects(ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Description: 'x\x02' })), {
      name: 'ValidationException',
    });
    await assert.rejects(
      ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Tags: [{ Key: '\x1b[31m', Value: 'v' }] })),
      { name: 'ValidationException' },
    );
    // JSON can carry a lone surrogate (`"\ud800"`), which no XML document can.
    await assert.rejects(ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Description: 'lone \uD800' })), {
      name: 'ValidationException',
      message: /U\+D800/,
    });
  } finally {
    ebs.destroy();
  }
  const described = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }));
  assert.deepEqual(described.Volumes?.[0]?.Tags ?? [], [], 'nothing was stored');
  // JSON, because the CLI's shorthand parser refuses the character itself.
  const tags = JSON.stringify([{ Key: 'a\x01b', Value: 'v' }]);
  const cli = await aws(['ec2', 'create-tags', '--resources', volumeId, '--tags', tags], false);
  assert.match(cli, /InvalidParameterValue/);
  assert.match(cli, /U\+0001/);
});

test('text already stored with control characters still gives well-formed XML to the SDK and the AWS CLI', async () => {
  const volume = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${strata.region}a`, Size: 1 }));
  await strata.cloud.ebs.idle();
  const snapshot = await ec2.send(new CreateSnapshotCommand({ VolumeId: volume.VolumeId ?? '' }));
  const snapshotId = snapshot.SnapshotId ?? '';
  await strata.cloud.ebs.idle();
  // As if stored before the edge checked, or written by hand: the response must still parse.
  await strata.cloud.db
    .updateTable('snapshots')
    .set({ description: 'x\0y\x01' })
    .where('id', '=', snapshotId)
    .execute();
  await strata.cloud.db
    .insertInto('tags')
    .values({
      account_id: strata.admin.accountId,
      resource_id: snapshotId,
      resource_type: 'snapshot',
      key: 'a\x01b',
      value: 'v\x1b',
    })
    .execute();
  const raw = await signedRequest(strata.endpoint, strata.admin, {
    region: strata.region,
    params: { Action: 'DescribeSnapshots', Version: '2016-11-15', 'SnapshotId.1': snapshotId },
  });
  assert.equal(raw.status, 200, raw.body);
  assert.equal(xmlUnsafeCharacter(raw.body), undefined);
  assert.equal(XMLValidator.validate(raw.body), true);
  const parsed = new XMLParser().parse(raw.body) as {
    DescribeSnapshotsResponse: { snapshotSet: { item: { description: string } } };
  };
  assert.equal(parsed.DescribeSnapshotsResponse.snapshotSet.item.description, 'x\uFFFDy\uFFFD');

  const sdk = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }));
  assert.equal(sdk.Snapshots?.[0]?.Description, 'x\uFFFDy\uFFFD');
  assert.deepEqual(sdk.Snapshots?.[0]?.Tags, [{ Key: 'a\uFFFDb', Value: 'v\uFFFD' }]);
  const cli = JSON.parse(await aws(['ec2', 'describe-snapshots', '--snapshot-ids', snapshotId])) as {
    Snapshots: { Description: string; Tags: { Key: string }[] }[];
  };
  assert.equal(cli.Snapshots[0]?.Description, 'x\uFFFDy\uFFFD');
  assert.equal(cli.Snapshots[0]?.Tags[0]?.Key, 'a\uFFFDb');
});

// Runs the AWS CLI against the daemon; resolves with stdout on success, or stderr when `mustSucceed` is false.
async function aws(args: string[], mustSucceed = true): Promise<string> {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    AWS_ACCESS_KEY_ID: strata.admin.accessKeyId,
    AWS_SECRET_ACCESS_KEY: strata.admin.secretAccessKey,
    AWS_DEFAULT_REGION: strata.region,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_MAX_ATTEMPTS: '1',
  };
  const all = [...args, '--endpoint-url', strata.endpoint, '--output', 'json'];
  try {
    const { stdout } = await promisify(execFile)('aws', all, { env });
    if (!mustSucceed) assert.fail(`aws ${args.join(' ')} succeeded: ${stdout}`);
    return stdout;
  } catch (error) {
    if (mustSucceed) throw error;
    return String((error as { stderr?: string }).stderr);
  }
}
