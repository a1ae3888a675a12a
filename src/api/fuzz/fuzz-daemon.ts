// The daemon under fuzz: a real `strata serve --hypervisor fake` process on 127.0.0.1 with a fresh data dir,
// so "the daemon stays up" means a process that is still alive, not a test harness that caught something.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KeyPair } from '../../cloud/common/accounts.ts';
import { healthPath } from '../api-server.ts';

const strataBin = fileURLToPath(new URL('../../../bin/strata', import.meta.url));
const logLinesKept = 200;
/** Characters of one daemon log line kept; a longer line is cut (its head says what it was). */
const logLineCharsMax = 64 * 1024;
// Generous: on a loaded 2-core machine a tsx start alone has taken over a minute.
const startSecondsMax = 180;
const stopSecondsMax = 60;

/** A running daemon under fuzz. */
export interface FuzzDaemon {
  readonly endpoint: string;
  readonly port: number;
  readonly dataDir: string;
  readonly nbdSocket: string;
  readonly admin: KeyPair;
  /** Whether the process is still running. */
  alive(): boolean;
  /** How it ended, when it has ended (`exit 1`, `signal SIGSEGV`). */
  exitReason(): string | undefined;
  /** The last log lines (info and above), for a failure report. */
  recentLog(): string;
  /** Log lines at level error (50) or above seen so far: faults the daemon logged with their cause. */
  errorLines(): readonly string[];
  /** Whether GET /_strata/health answers 200 within `timeoutMs`. */
  healthy(timeoutMs?: number): Promise<boolean>;
  /** SIGTERM, wait for exit, remove the data dir. */
  close(): Promise<void>;
}

/** How to start the daemon under fuzz. */
export interface FuzzDaemonOptions {
  /** Also append the daemon's whole log (at `logLevel`) to this file, for long runs. */
  readonly logFile?: string;
  /** pino level; default info. */
  readonly logLevel?: string;
}

/** Starts `strata serve` with fixed admin keys on a free port; resolves once it listens. */
export async function startFuzzDaemon(options: FuzzDaemonOptions = {}): Promise<FuzzDaemon> {
  const dataDir = mkdtempSync(join(tmpdir(), 'strata-fuzz-'));
  const admin = {
    accessKeyId: 'AKIASTRATAFUZZADMIN0',
    secretAccessKey: 'fuzz-admin-secret-0123456789abcdefgh',
  };
  const child = spawn(
    strataBin,
    [
      'serve',
      '--data-dir',
      dataDir,
      '--listen',
      '127.0.0.1:0',
      '--hypervisor',
      'fake',
      '--log-level',
      'info',
    ],
    {
      env: {
        ...process.env,
        STRATA_ADMIN_ACCESS_KEY_ID: admin.accessKeyId,
        STRATA_ADMIN_SECRET_ACCESS_KEY: admin.secretAccessKey,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const log = new LogTail(child);
  if (options.logFile !== undefined) child.stderr?.pipe(createWriteStream(options.logFile, { flags: 'a' }));
  let endpoint: string;
  try {
    endpoint = await log.waitFor(/"endpoint":"(http:\/\/[^"]+)"/, startSecondsMax * 1000);
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    endpoint,
    port: Number(new URL(endpoint).port),
    dataDir,
    nbdSocket: join(dataDir, 'nbd.sock'),
    admin,
    alive: () => child.exitCode === null && child.signalCode === null,
    exitReason: () =>
      child.exitCode !== null
        ? `exit ${child.exitCode}`
        : child.signalCode !== null
          ? `signal ${child.signalCode}`
          : undefined,
    recentLog: () => log.lines.join('\n'),
    errorLines: () => log.errors,
    healthy: (timeoutMs = 10_000) => healthy(endpoint, timeoutMs),
    close: async () => {
      try {
        await stop(child, log);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

// SIGTERM must stop the daemon; one that has not exited after stopSecondsMax is killed, and that is an error.
async function stop(child: ChildProcess, log: LogTail): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise((resolve) => (timer = setTimeout(() => resolve('late'), stopSecondsMax * 1000)));
  const first = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (first !== 'late') return;
  child.kill('SIGKILL');
  await exited;
  throw new Error(
    `strata serve did not exit within ${stopSecondsMax} s of SIGTERM; log tail:\n${log.lines.join('\n')}`,
  );
}

async function healthy(endpoint: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}${healthPath}`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.status === 200 && (await res.text()) === 'ok\n';
  } catch {
    return false;
  }
}

// The daemon's stderr (pino JSON lines): the last lines for reports, every error line, and the start line.
class LogTail {
  readonly lines: string[] = [];
  readonly errors: string[] = [];
  #partial = '';
  #waiters: ((line: string) => void)[] = [];

  constructor(private readonly child: ChildProcess) {
    child.stderr?.on('data', (chunk: Buffer) => this.#take(chunk.toString('utf8')));
  }

  // Linear in what arrives: only the new text is searched for line ends, and a line is kept to its first
  // logLineCharsMax characters. (Re-splitting the whole partial line on every chunk made one huge log line
  // cost minutes of CPU, and stalled the fuzzer.)
  #take(text: string): void {
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      const line = this.#partial + text.slice(start, Math.min(end, start + logLineCharsMax));
      this.#partial = '';
      start = end + 1;
      this.#line(line.slice(0, logLineCharsMax));
    }
    const room = logLineCharsMax - this.#partial.length;
    if (room > 0) this.#partial += text.slice(start, start + room);
  }

  #line(line: string): void {
    this.lines.push(line);
    if (this.lines.length > logLinesKept) this.lines.shift();
    if (/"level":(5\d|6\d)/.test(line)) this.errors.push(line);
    for (const waiter of this.#waiters) waiter(line);
  }

  waitFor(pattern: RegExp, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail('did not start in time'), timeoutMs);
      const onExit = (): void => fail('exited while starting');
      const fail = (why: string): void => {
        clearTimeout(timer);
        reject(new Error(`strata serve ${why}:\n${this.lines.join('\n')}`));
      };
      this.child.once('exit', onExit);
      this.#waiters.push((line) => {
        const match = pattern.exec(line);
        if (match?.[1] === undefined) return;
        clearTimeout(timer);
        this.child.off('exit', onExit);
        resolve(match[1]);
      });
    });
  }
}
