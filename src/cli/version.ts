// `strata --version`: the package version, the git commit of the checkout when there is one, and the Node
// that runs it. Read at run time (package.json, `git describe`), so a build never reports a stale commit.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout's root: the nearest folder above this module with a package.json (src/cli/ or dist/). */
export function strataRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

/** The commit the checkout at `root` is on (12 hex digits, `-dirty` with uncommitted changes), or undefined. */
export function gitCommit(root: string): string | undefined {
  if (!existsSync(join(root, '.git'))) return undefined;
  try {
    const described = execFileSync('git', ['describe', '--always', '--dirty', '--abbrev=12', '--exclude=*'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5_000,
    });
    return described.trim() || undefined;
  } catch {
    // No git on this host, or not a repository after all: the version alone still answers.
    return undefined;
  }
}

/** One line: `strata 0.1.0 (commit 0123456789ab, node v24.22.3)`. */
export function versionLine(root: string = strataRoot()): string {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown };
  const version = typeof pkg.version === 'string' ? pkg.version : 'unknown';
  const commit = gitCommit(root);
  return `strata ${version} (${commit === undefined ? '' : `commit ${commit}, `}node ${process.version})`;
}
