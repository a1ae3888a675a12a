// The ready block of `strata serve`, followed as a user would: start the daemon, paste its `export` line
// into the environment, run its example command with the stock AWS CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { readyBanner } from './ready-banner.ts';

const run = promisify(execFile);
const strataBin = fileURLToPath(new URL('../../bin/strata', import.meta.url));

test('the block names the endpoint, the credentials files by absolute path, and a command', () => {
  const lines = readyBanner('http://127.0.0.1:8773', 'data');
  const text = lines.join('\n');
  assert.match(text, /strata is ready: .* on http:\/\/127\.0\.0\.1:8773$/m);
  assert.match(text, new RegExp(`AWS_SHARED_CREDENTIALS_FILE=${process.cwd()}/data/credentials `));
  assert.match(text, /AWS_PROFILE=strata$/m);
  assert.match(text, /^ {2}aws --endpoint-url http:\/\/127\.0\.0\.1:8773 ec2 /m);
  assert.doesNotMatch(text, /console/i, 'no console line until there is a console');
  const withConsole = readyBanner('http://127.0.0.1:8773', 'data', 'http://127.0.0.1:8773/console/');
  assert.equal(withConsole[2], 'Web console: http://127.0.0.1:8773/console/');
});

test('strata serve prints the block once it answers, and its lines work as printed', async () => {
  const work = mkdtempSync(join(tmpdir(), 'strata-ready-'));
  const child = spawn(
    strataBin,
    ['serve', '--data-dir', join(work, 'data'), '--listen', '127.0.0.1:0', '--hypervisor', 'fake'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  try {
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready block in 60 s: ${stderr}`)), 60_000);
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (!/^Stop it with/m.test(stdout)) return;
        clearTimeout(timer);
        resolve();
      });
      child.on('exit', (code) => reject(new Error(`strata serve exited ${code}: ${stderr}`)));
    });
    const exported = /^ {2}export (.*)$/m.exec(stdout)?.[1];
    const command = /^ {2}(aws .*)$/m.exec(stdout)?.[1];
    assert.ok(exported !== undefined && command !== undefined, stdout);
    const env = Object.fromEntries(exported.split(' ').map((pair) => pair.split('=') as [string, string]));
    const [aws, ...args] = command.split(' ');
    const result = await run(aws!, [...args, '--output', 'json'], { env: { ...process.env, ...env } });
    const zones = JSON.parse(result.stdout) as { AvailabilityZones: { ZoneName: string }[] };
    assert.ok(
      zones.AvailabilityZones.some((zone) => zone.ZoneName === 'us-east-1a'),
      result.stdout,
    );
  } finally {
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    rmSync(work, { recursive: true, force: true });
  }
});
