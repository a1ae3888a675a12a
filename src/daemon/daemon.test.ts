// `strata serve` as users run it: a real process, the generated credentials files, the stock AWS CLI,
// `strata account create` against a running daemon, SIGTERM, and a restart on the same data dir.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { serve, stop, strataBin } from './testing/serve-process.ts';

const run = promisify(execFile);
const adminKeys = {
  STRATA_ADMIN_ACCESS_KEY_ID: 'AKIASTRATATESTADMIN0',
  STRATA_ADMIN_SECRET_ACCESS_KEY: 'test-admin-secret-0123456789abcdef',
};

/**
 * Whether the installed AWS CLI reads `endpoint_url` from its config file (v1 from 1.29, v2 from 2.13).
 * Debian 12's awscli is 2.9, which does not: there the contract's fallback, `--endpoint-url`, is what works.
 */
async function cliReadsEndpointUrl(): Promise<boolean> {
  const { stdout } = await run('aws', ['--version']);
  const version = /aws-cli\/(\d+)\.(\d+)/.exec(stdout);
  assert.ok(version, `unexpected aws --version output: ${stdout}`);
  const [major, minor] = [Number(version[1]), Number(version[2])];
  return (major === 1 && minor >= 29) || (major === 2 && minor >= 13) || major > 2;
}

async function aws(dataDir: string, args: string[], env: Record<string, string> = {}): Promise<unknown> {
  const files = {
    AWS_SHARED_CREDENTIALS_FILE: join(dataDir, 'credentials'),
    AWS_CONFIG_FILE: join(dataDir, 'config'),
  };
  // On CLIs that ignore the config's endpoint_url, pass the one the daemon wrote there (the contract's fallback).
  if (!args.includes('--endpoint-url') && !(await cliReadsEndpointUrl())) {
    const endpoint = /^endpoint_url = (.+)$/m.exec(readFileSync(files.AWS_CONFIG_FILE, 'utf8'))?.[1];
    assert.ok(endpoint, 'the config file names no endpoint_url');
    args = ['--endpoint-url', endpoint, ...args];
  }
  const { stdout } = await run('aws', ['--output', 'json', ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: dataDir, ...files, ...env },
  });
  return JSON.parse(stdout) as unknown;
}

test(
  'strata serve: credentials files, AWS CLI, account create, SIGTERM, restart',
  { timeout: 120_000 },
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'strata-serve-'));
    let child: ChildProcess | undefined;
    try {
      const first = await serve(dataDir, adminKeys, ['--nbd-listen', '127.0.0.1:0']);
      child = first.child;
      assert.match(first.log, /"nbdTcp":\{"host":"127\.0\.0\.1","port":[1-9]\d*\}/);
      const credentials = readFileSync(join(dataDir, 'credentials'), 'utf8');
      assert.match(credentials, /^\[strata\]\naws_access_key_id = AKIASTRATATESTADMIN0\n/);
      assert.equal(statSync(join(dataDir, 'credentials')).mode & 0o777, 0o600);
      assert.equal(statSync(join(dataDir, 'master.key')).mode & 0o777, 0o600);
      assert.match(
        readFileSync(join(dataDir, 'config'), 'utf8'),
        new RegExp(`endpoint_url = ${first.endpoint}\n`),
      );

      const zones = (await aws(dataDir, ['--profile', 'strata', 'ec2', 'describe-availability-zones'])) as {
        AvailabilityZones: { ZoneName: string }[];
      };
      assert.deepEqual(
        zones.AvailabilityZones.map((zone) => zone.ZoneName),
        ['us-east-1a', 'us-east-1b', 'us-east-1c'],
      );

      const created = await run(strataBin, ['account', 'create', 'dora', '--json', '--data-dir', dataDir]);
      const dora = JSON.parse(created.stdout) as {
        accountId: string;
        accessKeyId: string;
        secretAccessKey: string;
      };
      assert.match(dora.accountId, /^\d{12}$/);
      const regions = (await aws(
        dataDir,
        ['--endpoint-url', first.endpoint, '--region', 'us-east-1', 'ec2', 'describe-regions'],
        {
          AWS_ACCESS_KEY_ID: dora.accessKeyId,
          AWS_SECRET_ACCESS_KEY: dora.secretAccessKey,
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
          AWS_CONFIG_FILE: '/dev/null',
        },
      )) as { Regions: { RegionName: string }[] };
      assert.deepEqual(
        regions.Regions.map((region) => region.RegionName),
        ['us-east-1'],
      );

      await printedProfileWorksAlone(dataDir);
      await nbdUriLooksTheIdUp(dataDir);

      assert.equal(await stop(child), 0);
      child = undefined;

      // Restart: the env keys no longer matter (accounts exist); the same admin key is written again.
      const second = await serve(dataDir, {});
      child = second.child;
      const rewritten = readFileSync(join(dataDir, 'credentials'), 'utf8');
      assert.ok(rewritten.startsWith(credentials), `the same admin profile first: ${rewritten}`);
      assert.match(rewritten, /^\[gus\]$/m, 'the profile account create --write added is kept');
      const again = (await aws(dataDir, ['--profile', 'strata', 'ec2', 'describe-regions'])) as {
        Regions: unknown[];
      };
      assert.equal(again.Regions.length, 1);
      assert.equal(await stop(child), 0);
      child = undefined;
    } finally {
      child?.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);

// A first start with --demo-image builds the image (kernel, busybox, syslinux): tens of seconds when loaded.
const demoStartMs = 150_000;

// `strata account create NAME` prints both sections of a profile; saved as two files, nothing else is needed.
// With --write it adds them to the data dir's files, which a restart of the daemon keeps.
async function printedProfileWorksAlone(dataDir: string): Promise<void> {
  const printed = await run(strataBin, ['account', 'create', 'fay', '--data-dir', dataDir]);
  const sections = printed.stdout.split(/^#.*$/m).map((part) => part.trim());
  const credentials = sections.find((part) => part.startsWith('[fay]'));
  const config = sections.find((part) => part.startsWith('[profile fay]'));
  assert.ok(credentials !== undefined && config !== undefined, `two profile sections: ${printed.stdout}`);
  assert.match(config, /^region = us-east-1$/m);
  const alone = mkdtempSync(join(tmpdir(), 'strata-profile-'));
  try {
    writeFileSync(join(alone, 'credentials'), `${credentials}\n`);
    writeFileSync(join(alone, 'config'), `${config}\n`);
    const zones = (await aws(alone, ['--profile', 'fay', 'ec2', 'describe-availability-zones'])) as {
      AvailabilityZones: unknown[];
    };
    assert.equal(zones.AvailabilityZones.length, 3);
  } finally {
    rmSync(alone, { recursive: true, force: true });
  }
  await run(strataBin, ['account', 'create', 'gus', '--write', '--data-dir', dataDir]);
  assert.match(readFileSync(join(dataDir, 'config'), 'utf8'), /^\[profile gus\]\nregion = us-east-1\n/m);
  const regions = (await aws(dataDir, ['--profile', 'gus', 'ec2', 'describe-regions'])) as {
    Regions: unknown[];
  };
  assert.equal(regions.Regions.length, 1);
}

// `strata nbd-uri` prints a URI only for an id the data dir's database knows.
async function nbdUriLooksTheIdUp(dataDir: string): Promise<void> {
  const created = (await aws(dataDir, [
    '--profile',
    'strata',
    'ec2',
    'create-volume',
    '--availability-zone',
    'us-east-1a',
    '--size',
    '1',
  ])) as { VolumeId: string };
  const uri = await run(strataBin, ['nbd-uri', created.VolumeId, '--data-dir', dataDir]);
  assert.equal(uri.stdout, `nbd+unix:///${created.VolumeId}?socket=${join(dataDir, 'nbd.sock')}\n`);
  const missing = await run(strataBin, ['nbd-uri', 'vol-0123456789abcdef0', '--data-dir', dataDir]).then(
    () => assert.fail('a URI for a volume that does not exist'),
    (error: { code?: number; stderr?: string }) => error,
  );
  assert.equal(missing.code, 2);
  assert.match(missing.stderr ?? '', /vol-0123456789abcdef0 does not exist in /);
}

/** Everything `child` writes to stderr from now on. */
function collect(child: ChildProcess): { text: () => string } {
  let text = '';
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { text: () => text };
}

test(
  'log lines: the demo image is registered once, the driver is ready at start, shutdown counts the VMs left',
  { timeout: 300_000 },
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'strata-serve-log-'));
    let child: ChildProcess | undefined;
    try {
      const first = await serve(dataDir, adminKeys, ['--demo-image'], demoStartMs);
      child = first.child;
      const firstLog = collect(child);
      assert.match(first.log, /"msg":"demo image registered"/);
      assert.match(first.log, /"msg":"vm driver ready"/, 'the capabilities are resolved at start');
      const ami = (await aws(dataDir, [
        '--profile',
        'strata',
        'ec2',
        'describe-images',
        '--owners',
        'self',
      ])) as {
        Images: { ImageId: string }[];
      };
      const imageId = ami.Images[0]?.ImageId;
      assert.ok(imageId !== undefined);
      await aws(dataDir, ['--profile', 'strata', 'ec2', 'run-instances', '--image-id', imageId]);
      assert.equal(await stop(child), 0);
      child = undefined;
      assert.match(
        firstLog.text(),
        /"vmsLeftRunning":1,.*"msg":"1 VM left running for the next daemon to adopt"/,
      );

      const second = await serve(dataDir, {}, ['--demo-image'], demoStartMs);
      child = second.child;
      const secondLog = collect(child);
      assert.doesNotMatch(second.log, /demo image registered/, 'a restart finds the image and says nothing');
      const pid = /"pid":(\d+)/.exec(second.log)?.[1];
      assert.equal(pid, String(child.pid), "the daemon's pid field is its own");
      await aws(dataDir, [
        '--profile',
        'strata',
        'ec2',
        'terminate-instances',
        '--instance-ids',
        ...(await instanceIds(dataDir)),
      ]);
      assert.equal(await stop(child), 0);
      child = undefined;
      assert.match(secondLog.text(), /"msg":"no VMs left running"/);
    } finally {
      child?.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);

async function instanceIds(dataDir: string): Promise<string[]> {
  const described = (await aws(dataDir, ['--profile', 'strata', 'ec2', 'describe-instances'])) as {
    Reservations: { Instances: { InstanceId: string }[] }[];
  };
  return described.Reservations.flatMap((reservation) => reservation.Instances.map((i) => i.InstanceId));
}
