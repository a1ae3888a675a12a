// TEST-ONLY: a server over a fresh store in a temp dir, and a helper to run real NBD clients.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openBlockStore } from '../../storage/open-block-store.ts';
import type { BlockStore } from '../../storage/block-store.ts';
import { startNbdServer } from '../start-nbd-server.ts';
import type { NbdServer } from '../nbd-server.ts';
import { MemoryBlockStore } from './memory-store.ts';

const execFileAsync = promisify(execFile);

/** A running server with its store and temp dir. */
export interface Harness {
  readonly dir: string;
  readonly store: BlockStore;
  readonly server: NbdServer;
  /** Which store backs it: the real pool, or the in-memory double. */
  readonly storeKind: 'pool' | 'memory';
  close(): Promise<void>;
}

/** Opens the real pool under `dir`, or the in-memory double (for fuzzing, where speed matters more). */
export async function openTestStore(dir: string, kind: 'pool' | 'memory'): Promise<BlockStore> {
  return kind === 'pool' ? openBlockStore({ dir: join(dir, 'pool') }) : new MemoryBlockStore();
}

/** Starts a server over a fresh store; `close` stops both and removes the dir. */
export async function startHarness(kind: 'pool' | 'memory' = 'pool'): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-nbd-'));
  const store = await openTestStore(dir, kind);
  const server = await startNbdServer({ store, socketPath: join(dir, 'nbd.sock') });
  return {
    dir,
    store,
    server,
    storeKind: kind,
    async close() {
      await server.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs a real client; resolves with stdout, rejects with its stderr in the message. */
export async function run(
  command: string,
  args: string[],
  timeoutMs = 60_000,
  cwd = tmpdir(),
): Promise<string> {
  try {
    // cwd is a temp dir: some tools (fio) drop state files where they run.
    const options = { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, cwd };
    const { stdout } = await execFileAsync(command, args, options);
    return stdout;
  } catch (error) {
    const failure = error as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${failure.stderr ?? ''} ${failure.message}`, {
      cause: error,
    });
  }
}
