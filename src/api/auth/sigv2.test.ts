// Signature Version 2 as real clients send it: Apache libcloud's EC2 driver (Debian's python3-libcloud), which
// signs with SigV2 by default and numbers its lists from 0. Before issue 17 every libcloud create_volume and
// create_volume_snapshot failed after the resource existed (the tag call was refused), so the resource leaked.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DescribeSnapshotsCommand, DescribeVolumesCommand } from '@aws-sdk/client-ec2';
import { startTestDaemon, type TestDaemon } from '../testing/test-daemon.ts';
import { signedRequest } from '../testing/signed-request.ts';

const run = promisify(execFile);
const python = '/usr/bin/python3';

// The driver, pointed at the daemon; prints one JSON line of what it saw.
const script = `
import json, sys, time
from libcloud.compute.providers import get_driver
from libcloud.compute.types import Provider
host, port, key, secret, zone, mode = sys.argv[1:7]
driver = get_driver(Provider.EC2)(key, secret, secure=False, host=host, port=int(port), region='us-east-1')
def attempt(call):
    try:
        return {'ok': call()}
    except Exception as error:
        return {'error': str(error)}
if mode == 'stale':
    real = time.gmtime
    time.gmtime = lambda *args: real(time.time() - 3600)
if mode != 'work':
    print(json.dumps(attempt(lambda: len(driver.list_volumes()))))
    sys.exit(0)
location = [l for l in driver.list_locations() if l.availability_zone.name == zone][0]
volume = driver.create_volume(1, 'libcloud-volume', location=location)
snapshot = driver.create_volume_snapshot(volume, name='libcloud-snapshot')
names = [v.name for v in driver.list_volumes()]
print(json.dumps({'volume': volume.id, 'snapshot': snapshot.id, 'names': names}))
`;

async function libcloudSkipReason(): Promise<string | undefined> {
  try {
    await run(python, ['-c', 'import libcloud']);
    return undefined;
  } catch {
    return 'python3-libcloud is not installed (scripts/install-deps.sh installs it)';
  }
}

const skip = await libcloudSkipReason();
let strata: TestDaemon;
before(async () => {
  if (skip === undefined) strata = await startTestDaemon();
});
after(() => strata?.close());

async function libcloud(mode: 'work' | 'wrong-secret' | 'stale'): Promise<Record<string, unknown>> {
  const url = new URL(strata.endpoint);
  const secret = mode === 'wrong-secret' ? 'not-the-secret' : strata.admin.secretAccessKey;
  const args = [url.hostname, url.port, strata.admin.accessKeyId, secret, `${strata.region}a`, mode];
  const { stdout } = await run(python, ['-c', script, ...args], { timeout: 60_000 });
  return JSON.parse(stdout) as Record<string, unknown>;
}

test('libcloud (SigV2, lists from 0) creates a named volume and a named snapshot', { skip }, async () => {
  const out = (await libcloud('work')) as { volume: string; snapshot: string; names: string[] };
  assert.match(out.volume, /^vol-[0-9a-f]{17}$/);
  assert.match(out.snapshot, /^snap-[0-9a-f]{17}$/);
  assert.ok(out.names.includes('libcloud-volume'), JSON.stringify(out.names));
  const ec2 = strata.ec2();
  const volumes = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [out.volume] }));
  assert.deepEqual(volumes.Volumes?.[0]?.Tags, [{ Key: 'Name', Value: 'libcloud-volume' }]);
  const snapshots = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [out.snapshot] }));
  assert.equal(snapshots.Snapshots?.[0]?.Description, 'libcloud-snapshot');
  assert.deepEqual(snapshots.Snapshots?.[0]?.Tags, [{ Key: 'Name', Value: 'libcloud-snapshot' }]);
});

test(
  'SigV2 gets the same checks as SigV4: a wrong secret and a stale timestamp are refused',
  { skip },
  async () => {
    const wrong = await libcloud('wrong-secret');
    assert.match(String(wrong.error), /SignatureDoesNotMatch|signature we calculated/);
    const stale = await libcloud('stale');
    assert.match(String(stale.error), /RequestExpired|expired/i);
  },
);

test('an older signature version, or SigV2 missing a field, is a clear IncompleteSignature', async () => {
  const other = await startTestDaemon();
  try {
    const base = {
      Action: 'DescribeRegions',
      Version: '2016-11-15',
      AWSAccessKeyId: other.admin.accessKeyId,
    };
    const cases: [Record<string, string>, RegExp][] = [
      [{ ...base, SignatureVersion: '1', Signature: 'x' }, /SignatureVersion must be 2/],
      [{ ...base, SignatureVersion: '2', SignatureMethod: 'HmacSHA256', Signature: 'x' }, /Timestamp/],
      [
        { ...base, SignatureVersion: '2', SignatureMethod: 'HmacMD5', Signature: 'x' },
        /HmacSHA256 or HmacSHA1/,
      ],
    ];
    for (const [params, message] of cases) {
      const res = await signedRequest(other.endpoint, other.admin, { method: 'GET', params, unsigned: true });
      assert.equal(res.status, 400, res.body);
      assert.match(res.body, /<Code>IncompleteSignature<\/Code>/);
      assert.match(res.body, message);
    }
  } finally {
    await other.close();
  }
});
