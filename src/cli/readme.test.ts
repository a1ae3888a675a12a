// The README cannot rot: its shell blocks run, top to bottom, as one bash script against a daemon, from a
// directory laid out as a checkout is (`bin/strata`, `data/`), and must leave nothing behind.
//
// A comment on the line(s) just before a block selects how it runs, and the selection stays explicit:
//   <!-- readme-test: skip (why) -->   never run here (installs packages, starts a daemon, needs root);
//   <!-- readme-test: qemu -->         needs a real VM or network: run only with STRATA_README_QEMU=1,
//                                      when the daemon runs --hypervisor qemu (the default suite uses fake).
// Blocks without a comment run under the fake driver. Only ```sh blocks run; ```text and ```js do not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { serve, stop, strataBin } from '../daemon/testing/serve-process.ts';

const run = promisify(execFile);
const readmePath = fileURLToPath(new URL('../../README.md', import.meta.url));
const withQemu = process.env.STRATA_README_QEMU === '1';
// At most this many blocks may be skipped: each needs a reason, and the list must stay short.
const skippedBlocksMax = 4;
// A first start with --demo-image builds the image; the script makes ~40 AWS CLI calls (a second each when
// idle, 5-15 s on a loaded 2-core machine) and its waiters poll every 15 s: bounds, not expectations.
const daemonStartMs = 150_000;
const scriptMs = 600_000;

/** One fenced ```sh block and the marker before it. */
interface ShellBlock {
  readonly line: number;
  readonly marker: 'run' | 'skip' | 'qemu';
  readonly reason: string;
  readonly code: string;
}

/** The README's ```sh blocks, each with the marker comment just before it (blank lines between allowed). */
export function shellBlocks(markdown: string): ShellBlock[] {
  const lines = markdown.split('\n');
  const blocks: ShellBlock[] = [];
  let marker: { kind: 'skip' | 'qemu'; reason: string } | undefined;
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] ?? '';
    const comment = /^<!-- readme-test: (.*) -->$/.exec(line);
    if (comment !== null) {
      marker = parseMarker(comment[1] ?? '', index + 1);
      continue;
    }
    const fence = /^```(\w*)$/.exec(line);
    if (fence === null) {
      if (line.trim() !== '') marker = undefined;
      continue;
    }
    const end = lines.indexOf('```', index + 1);
    assert.ok(end > index, `README.md:${index + 1}: a fence that is never closed`);
    if (fence[1] === 'sh') {
      const code = lines.slice(index + 1, end).join('\n');
      blocks.push({ line: index + 1, marker: marker?.kind ?? 'run', reason: marker?.reason ?? '', code });
    }
    marker = undefined;
    index = end;
  }
  return blocks;
}

function parseMarker(text: string, line: number): { kind: 'skip' | 'qemu'; reason: string } {
  if (text === 'qemu') return { kind: 'qemu', reason: 'needs a real VM' };
  const skip = /^skip \((.+)\)$/.exec(text);
  assert.ok(skip !== null, `README.md:${line}: a marker is "skip (why)" or "qemu": got "${text}"`);
  return { kind: 'skip', reason: skip[1] ?? '' };
}

test('shellBlocks: markers apply to the next block only; other languages are not run', () => {
  const markdown = [
    '<!-- readme-test: skip (needs root) -->',
    '',
    '```sh',
    'a',
    '```',
    '```text',
    'not shell',
    '```',
    '<!-- readme-test: qemu -->',
    '```sh',
    'b',
    '```',
    'prose',
    '```sh',
    'c',
    'd',
    '```',
  ].join('\n');
  assert.deepEqual(
    shellBlocks(markdown).map((block) => [block.line, block.marker, block.code]),
    [
      [3, 'skip', 'a'],
      [10, 'qemu', 'b'],
      [14, 'run', 'c\nd'],
    ],
  );
  assert.throws(() => shellBlocks('<!-- readme-test: maybe -->\n```sh\nx\n```'), /"skip \(why\)" or "qemu"/);
});

// The script: the blocks to run, in order, each announced on stderr so a failure names its block.
function readmeScript(blocks: readonly ShellBlock[]): string {
  const body = blocks
    .filter((block) => block.marker === 'run' || (block.marker === 'qemu' && withQemu))
    .map((block) => `echo '### README.md:${block.line}' >&2\n${block.code}`);
  // Aliases are off in scripts unless asked for; the README defines one (aws-strata).
  return ['set -euo pipefail', 'shopt -s expand_aliases', ...body, ''].join('\n');
}

// Runs `script` with bash in `cwd` and an environment a user's shell would have (no AWS variables).
function runScript(script: string, cwd: string): Promise<{ code: number | null; output: string }> {
  const child = spawn('bash', ['-c', script], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: cwd, LANG: 'C.UTF-8', AWS_PAGER: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), scriptMs);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    }),
  );
}

// What the admin account still has: every volume, snapshot and image, and the instances not terminated.
async function leftovers(dataDir: string, endpoint: string): Promise<Record<string, string[]>> {
  const aws = async (args: string[], query: string): Promise<string[]> => {
    const { stdout } = await run(
      'aws',
      ['--endpoint-url', endpoint, '--profile', 'strata', '--output', 'json', '--query', query, ...args],
      {
        env: {
          PATH: process.env.PATH ?? '',
          AWS_SHARED_CREDENTIALS_FILE: join(dataDir, 'credentials'),
          AWS_CONFIG_FILE: join(dataDir, 'config'),
        },
      },
    );
    return JSON.parse(stdout) as string[];
  };
  return {
    volumes: await aws(['ec2', 'describe-volumes'], 'Volumes[].VolumeId'),
    snapshots: await aws(['ec2', 'describe-snapshots', '--owner-ids', 'self'], 'Snapshots[].Description'),
    images: await aws(['ec2', 'describe-images', '--owners', 'self'], 'Images[].Name'),
    instances: await aws(
      ['ec2', 'describe-instances'],
      "Reservations[].Instances[?State.Name!='terminated'][].InstanceId",
    ),
  };
}

test(
  'the README runs top to bottom as a script and cleans up after itself',
  { timeout: 900_000 },
  async () => {
    const blocks = shellBlocks(readFileSync(readmePath, 'utf8'));
    const skipped = blocks.filter((block) => block.marker === 'skip');
    assert.ok(
      skipped.length <= skippedBlocksMax,
      `at most ${skippedBlocksMax} skipped blocks: ${skipped.map((b) => `${b.line} (${b.reason})`).join(', ')}`,
    );
    assert.ok(blocks.filter((block) => block.marker === 'run').length >= 4, 'most blocks run');
    const checkout = mkdtempSync(join(tmpdir(), 'strata-readme-'));
    mkdirSync(join(checkout, 'bin'));
    symlinkSync(strataBin, join(checkout, 'bin', 'strata'));
    const dataDir = join(checkout, 'data');
    const extra = ['--demo-image', ...(withQemu ? ['--hypervisor', 'qemu'] : [])];
    const daemon = await serve(dataDir, {}, extra, daemonStartMs);
    try {
      const result = await runScript(readmeScript(blocks), checkout);
      assert.equal(result.code, 0, `the README's script failed:\n${result.output}`);
      assert.match(result.output, /us-east-1a/, 'describe-availability-zones printed the zones');
      assert.match(result.output, /"type": "data"|\bdata\b/, 'nbdinfo --map shows the written extent');
      assert.deepEqual(await leftovers(dataDir, daemon.endpoint), {
        volumes: [],
        snapshots: ['strata demo image'],
        images: ['strata-demo'],
        instances: [],
      });
      assert.equal(await stop(daemon.child), 0);
    } finally {
      daemon.child.kill('SIGKILL');
      rmSync(checkout, { recursive: true, force: true });
    }
  },
);
