// For crash tests: runs a worker script under tsx, waits for its `ready` line, lets it work, then SIGKILLs it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

/** Starts `node --import tsx script ...args`, waits until it prints `ready`, lets it run `runMs`, SIGKILLs it. */
export async function runAndKill(script: string, args: readonly string[], runMs: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
    void exited.then(() => resolve());
  });
  await new Promise((resolve) => setTimeout(resolve, runMs));
  child.kill('SIGKILL');
  const { code, signal } = await exited;
  assert.equal(signal, 'SIGKILL', `worker ended on its own (code ${code}): ${stderr}`);
}
