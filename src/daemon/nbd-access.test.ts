// NBD over TCP through `strata serve` as a self-hoster runs it: TLS by default, one PSK per account from
// `strata nbd-psk`, URIs from `strata nbd-uri`, volumes made with the AWS CLI, and real NBD clients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { serve, stop, strataBin } from './testing/serve-process.ts';
import { NbdPskKeys } from './nbd-access.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;

async function strata(...args: string[]): Promise<string> {
  return (await run(strataBin, args)).stdout.trim();
}

// Creates a 1 GiB volume with the AWS CLI as `keys` (its pool device follows in the background).
async function createVolume(endpoint: string, keys: { id: string; secret: string }): Promise<string> {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: tmpdir(),
    AWS_ACCESS_KEY_ID: keys.id,
    AWS_SECRET_ACCESS_KEY: keys.secret,
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_CONFIG_FILE: '/dev/null',
  };
  const args = [
    '--output',
    'json',
    '--endpoint-url',
    endpoint,
    '--region',
    'us-east-1',
    'ec2',
    'create-volume',
  ];
  const { stdout } = await run('aws', [...args, '--size', '1', '--availability-zone', 'us-east-1a'], { env });
  return (JSON.parse(stdout) as { VolumeId: string }).VolumeId;
}

async function listed(uri: string): Promise<string[]> {
  const { stdout } = await run('nbdinfo', ['--json', '--list', uri]);
  return (JSON.parse(stdout) as { exports: { 'export-name': string }[] }).exports.map(
    (e) => e['export-name'],
  );
}

async function refused(command: string, args: string[]): Promise<string> {
  const outcome = await run(command, args, { timeout: 30_000 }).then(
    () => null,
    (error: { stderr?: string }) => error.stderr ?? '',
  );
  assert.notEqual(outcome, null, `${command} ${args.join(' ')} should have been refused`);
  return outcome ?? '';
}

test('account PSKs derive from the master key: stable, one per account, none for other identities', () => {
  const master = randomBytes(32);
  const keys = new NbdPskKeys(master);
  const alice = keys.keyFor('123456789012');
  assert.ok(alice !== null && alice.length === 32);
  assert.deepEqual(
    new NbdPskKeys(Buffer.from(master)).keyFor('123456789012'),
    alice,
    'same master, same key',
  );
  assert.notDeepEqual(keys.keyFor('123456789013'), alice, 'another account, another key');
  assert.notDeepEqual(new NbdPskKeys(randomBytes(32)).keyFor('123456789012'), alice, 'another master');
  for (const identity of ['', 'admin', '12345678901', '1234567890123', '12345678901x', 'root'])
    assert.equal(keys.keyFor(identity), null, identity);
  assert.equal(keys.pskFileLine('123456789012'), `123456789012:${alice.toString('hex')}\n`);
});

test(
  'strata serve --nbd-listen: TLS required, a PSK per account, each account sees and opens only its own volumes',
  { timeout: 400_000 },
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'strata-nbd-tls-'));
    let child: ChildProcess | undefined;
    try {
      const adminKeys = { id: 'AKIASTRATATESTADMIN0', secret: 'test-admin-secret-0123456789abcdef' };
      const started = await serve(
        dataDir,
        { STRATA_ADMIN_ACCESS_KEY_ID: adminKeys.id, STRATA_ADMIN_SECRET_ACCESS_KEY: adminKeys.secret },
        ['--nbd-listen', '127.0.0.1:0'],
      );
      child = started.child;
      const port = /"nbdTcp":\{"host":"127\.0\.0\.1","port":(\d+)\}/.exec(started.log)?.[1];
      assert.ok(port, `no NBD TCP port in the log:\n${started.log}`);
      const bob = JSON.parse(await strata('account', 'create', 'bob', '--json', '--data-dir', dataDir)) as {
        accountId: string;
        accessKeyId: string;
        secretAccessKey: string;
      };
      const adminVolume = await createVolume(started.endpoint, adminKeys);
      const bobVolume = await createVolume(started.endpoint, {
        id: bob.accessKeyId,
        secret: bob.secretAccessKey,
      });

      const adminPsk = join(dataDir, 'client-admin', 'keys.psk');
      const bobPsk = join(dataDir, 'client-bob', 'keys.psk');
      for (const dir of [dirname(adminPsk), dirname(bobPsk)]) rmSync(dir, { force: true, recursive: true });
      await run('mkdir', ['-p', dirname(adminPsk), dirname(bobPsk)]);
      await strata('nbd-psk', 'admin', adminPsk, '--data-dir', dataDir);
      await strata('nbd-psk', bob.accountId, bobPsk, '--data-dir', dataDir);
      assert.equal(statSync(adminPsk).mode & 0o777, 0o600);
      assert.match(readFileSync(bobPsk, 'utf8'), new RegExp(`^${bob.accountId}:[0-9a-f]{64}\n$`));
      const uri = (id: string, psk: string): Promise<string> =>
        strata('nbd-uri', id, '--tcp', `127.0.0.1:${port}`, '--psk-file', psk);
      const adminUri = await uri(adminVolume, adminPsk);
      assert.match(
        adminUri,
        new RegExp(`^nbds://\\d{12}@127\\.0\\.0\\.1:${port}/${adminVolume}\\?tls-psk-file=`),
      );

      assert.deepEqual(await listed(adminUri), [adminVolume]);
      assert.deepEqual(await listed(await uri(bobVolume, bobPsk)), [bobVolume]);
      assert.match(await refused('nbdinfo', ['--size', await uri(bobVolume, adminPsk)]), /no export/);
      assert.match(
        await refused('nbdinfo', ['--size', `nbd://127.0.0.1:${port}/${adminVolume}`]),
        /requires TLS/,
      );
      const forged = join(dataDir, 'forged.psk');
      writeFileSync(forged, `${bob.accountId}:${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
      await refused('nbdinfo', ['--size', await uri(bobVolume, forged)]);

      // Data in through nbdcopy, out through qemu-img, both over TLS with bob's key.
      const data = randomBytes(2 * MiB);
      const source = join(dataDir, 'in.raw');
      writeFileSync(source, data);
      await run('nbdcopy', ['--destination-is-zero', source, await uri(bobVolume, bobPsk)]);
      const out = join(dataDir, 'out.raw');
      await run('qemu-img', [
        ...['convert', '-O', 'raw', '--object'],
        `tls-creds-psk,id=tls0,dir=${dirname(bobPsk)},username=${bob.accountId},endpoint=client`,
        '--image-opts',
        `driver=nbd,host=127.0.0.1,port=${port},export=${bobVolume},tls-creds=tls0`,
        out,
      ]);
      const back = readFileSync(out);
      assert.equal(back.length, 1024 * MiB);
      assert.ok(back.subarray(0, 2 * MiB).equals(data), 'qemu-img reads back what nbdcopy wrote');
      rmSync(out);
      assert.equal(await stop(child), 0);
      child = undefined;

      // Plain NBD off loopback is refused at start, naming the reason.
      const plain = await run(strataBin, [
        ...['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--hypervisor', 'fake'],
        ...['--nbd-listen', '0.0.0.0:0', '--nbd-tls', 'off'],
      ]).then(
        () => null,
        (error: { code?: number; stderr?: string }) => error,
      );
      assert.equal(plain?.code, 1, 'strata serve must refuse plain NBD on 0.0.0.0');
      assert.match(plain?.stderr ?? '', /only allowed on a loopback address/);
    } finally {
      child?.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);
