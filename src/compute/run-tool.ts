// Runs a host tool (qemu-img, mke2fs, mtools …) and turns a failure into one message naming the command.
import { execFile } from 'node:child_process';

/** A host tool that exited non-zero or could not start; carries its stderr. */
export class ToolError extends Error {
  override readonly name = 'ToolError';
  constructor(
    readonly command: string,
    readonly stderr: string,
    message: string,
  ) {
    super(message);
  }
}

/** Runs `command args…` to completion and returns its stdout; throws ToolError on failure or timeout. */
export function runTool(
  command: string,
  args: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        timeout: options.timeoutMs ?? 60_000,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
        env: options.env ?? process.env,
      },
      (error, stdout, stderr) => {
        if (error === null) return resolve(stdout);
        const line = [command, ...args].join(' ');
        const why = error.killed ? 'timed out' : `failed (${error.code ?? error.signal ?? 'unknown'})`;
        reject(new ToolError(command, stderr, `${line}: ${why}: ${stderr.trim() || error.message}`));
      },
    );
  });
}
