// The verb table against the verbs, and bin/strata run as users run it (the build in dist/, on the Node
// scripts/node-env.sh picks).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { strataProgram, verbNamed, verbs } from './program.ts';
import { gitCommit, strataRoot } from './version.ts';

const strataBin = fileURLToPath(new URL('../../bin/strata', import.meta.url));

function strata(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(strataBin, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      done({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr });
    });
  });
}

test('each verb registers one command under its name, described as the verb table says', async () => {
  for (const [name, verb] of Object.entries(verbs)) {
    // As strataProgram builds it: verbs that pass options through (install-service) need positional options.
    const program = new Command('strata').enablePositionalOptions();
    (await verb.load())(program);
    assert.deepEqual(
      program.commands.map((command) => command.name()),
      [name],
    );
    assert.equal(program.commands[0]!.description(), verb.summary, `summary of ${name}`);
  }
});

test('the verb to load is the first argument, or the one after help; none for options and unknown words', () => {
  assert.equal(verbNamed(['serve', '--data-dir', 'x']), 'serve');
  assert.equal(verbNamed(['help', 'nbd-uri']), 'nbd-uri');
  assert.equal(verbNamed(['--help']), undefined);
  assert.equal(verbNamed([]), undefined);
  assert.equal(verbNamed(['toString']), undefined);
  assert.equal(verbNamed(['servee']), undefined);
});

test('the program loads only the named verb; the others are stubs with their summaries', async () => {
  const program = await strataProgram(['fsck', '--help']);
  const fsck = program.commands.find((command) => command.name() === 'fsck');
  assert.ok(
    fsck?.options.some((option) => option.long === '--repair'),
    'fsck is the real verb, with --repair',
  );
  const serve = program.commands.find((command) => command.name() === 'serve');
  assert.equal(serve?.options.length, 0, 'serve is a stub');
  assert.equal(serve?.description(), verbs.serve!.summary);
});

test('bin/strata --help lists every verb; a verb --help shows its options', async () => {
  const help = await strata(['--help']);
  assert.equal(help.code, 0, help.stderr);
  for (const name of Object.keys(verbs)) assert.match(help.stdout, new RegExp(`^  ${name} `, 'm'));
  assert.match(help.stdout, /--version/);
  const serveHelp = await strata(['help', 'serve']);
  assert.equal(serveHelp.code, 0, serveHelp.stderr);
  assert.match(serveHelp.stdout, /--data-dir <dir>/);
  assert.match(serveHelp.stdout, /--hypervisor <kind>/);
});

test('bin/strata --version names the package version, the git commit and the Node version', async () => {
  const root = strataRoot();
  const pkg = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { version: string };
  const { code, stdout, stderr } = await strata(['--version']);
  assert.equal(code, 0, stderr);
  const [line] = stdout.split('\n');
  const match = /^strata (\S+) \(commit ([0-9a-f]{12}(?:-dirty)?), node (v\d+\.\d+\.\d+)\)$/.exec(line ?? '');
  assert.ok(match, `unexpected --version output: ${stdout}`);
  assert.equal(match[1], pkg.version);
  assert.equal(match[2]!.slice(0, 12), gitCommit(root)!.slice(0, 12));
  assert.ok(Number(match[3]!.slice(1).split('.')[0]) >= 22, `runs on a supported Node: ${match[3]}`);
});

test('bin/strata nbd-uri prints a URI; bad input and unknown verbs are clear errors', async () => {
  const uri = await strata(['nbd-uri', 'vol-0123456789abcdef0', '--data-dir', '/srv/strata', '--no-check']);
  assert.equal(uri.code, 0, uri.stderr);
  assert.equal(uri.stdout, 'nbd+unix:///vol-0123456789abcdef0?socket=/srv/strata/nbd.sock\n');
  assert.equal(uri.stderr, 'strata nbd-uri: vol-0123456789abcdef0 was not checked: --no-check\n');
  const noDataDir = await strata(['nbd-uri', 'vol-0123456789abcdef0', '--data-dir', '/srv/strata']);
  assert.equal(noDataDir.code, 2);
  assert.match(
    noDataDir.stderr,
    /no Strata database in \/srv\/strata: give the --data-dir that strata serve uses/,
  );
  const badId = await strata(['nbd-uri', 'i-0123456789abcdef0']);
  assert.equal(badId.code, 2);
  assert.match(badId.stderr, /expected a volume or snapshot id/);
  const unknown = await strata(['servee']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /unknown command 'servee'/);
  assert.match(unknown.stderr, /serve/, 'commander suggests the verb meant');
});

test('every verb ends its --help with the same Environment section, naming each option variable', async () => {
  for (const name of Object.keys(verbs)) {
    const program = await strataProgram([name]);
    const verb = program.commands.find((command) => command.name() === name);
    assert.ok(verb !== undefined);
    for (const command of [verb, ...verb.commands]) {
      const variables = command.options.flatMap((option) => option.envVar ?? []);
      let help = '';
      command.configureOutput({ writeOut: (text) => (help += text) });
      command.outputHelp();
      if (variables.length === 0 && !['serve', 'snapshot'].includes(name)) {
        assert.doesNotMatch(help, /Environment/, `${name} ${command.name()} reads none`);
        continue;
      }
      const section = help.split("\nEnvironment (each is its option's default; the option wins):\n")[1];
      assert.ok(
        section !== undefined,
        `${name} ${command.name()} --help has the Environment section:\n${help}`,
      );
      for (const variable of variables) assert.match(section, new RegExp(`^  ${variable} +--`, 'm'));
    }
  }
});

test('strata serve --help lists --data-dir, --listen and --hypervisor first', async () => {
  const { code, stdout, stderr } = await strata(['serve', '--help']);
  assert.equal(code, 0, stderr);
  const options = [...stdout.matchAll(/^ {2}(--[a-z-]+)/gm)].map((match) => match[1]);
  assert.deepEqual(options.slice(0, 3), ['--data-dir', '--listen', '--hypervisor']);
  assert.match(stdout, /^ {2}STRATA_ADMIN_ACCESS_KEY_ID +the admin's access key id/m);
});
