// The system-level fuzzer: seeded random cases against a running daemon over real sockets, in batches, until
// a time or request budget runs out. After every batch the daemon must still run and answer its health
// check; every answer must be a non-5xx in its API's format (fuzz-judge.ts).
//
// Usage (fuzz-api.test.ts runs a short one; bench/fuzz-api.ts a long one):
//   const daemon = await startFuzzDaemon();
//   const report = await runApiFuzz(daemon, { seed: 42, seconds: 100 });
//   report.failures … (each names its family, case seed and what was wrong)
// The case sequence follows from the seed; the ids the daemon hands out differ between runs, so a replay
// with the same seed sends the same shapes to fresh resources.
import { seededRandom } from '../../base/prng.ts';
import { NBD_MAGIC } from '../../nbd/protocol.ts';
import { mutate, play, session } from '../../nbd/testing/fuzz-sessions.ts';
import { rawHttp } from '../testing/raw-http.ts';
import { signedRequest } from '../testing/signed-request.ts';
import type { SignedRequestOptions } from '../testing/signed-request.ts';
import type { FuzzDaemon } from './fuzz-daemon.ts';
import { ebsCase } from './ebs-cases.ts';
import { ec2Case } from './ec2-cases.ts';
import { judgeResponse, preview } from './fuzz-judge.ts';
import { Chooser, KnownIds } from './fuzz-values.ts';
import { httpCase } from './http-cases.ts';

/** The four kinds of case. */
export type Family = 'http' | 'ec2' | 'ebs' | 'nbd';
const families: readonly Family[] = ['http', 'ec2', 'ebs', 'nbd'];
const familyWeights: Readonly<Record<Family, number>> = { http: 0.3, ec2: 0.35, ebs: 0.25, nbd: 0.1 };

/** How long and how hard to fuzz. */
export interface FuzzOptions {
  readonly seed: number;
  readonly seconds: number;
  /** Stop after this many cases even if time is left. */
  readonly casesMax?: number;
  /** Cases between liveness checks (default 25). */
  readonly batchSize?: number;
  /** Stop after this many failures (default 20). */
  readonly failuresMax?: number;
  /** Called after every batch, for progress lines in long runs. */
  readonly onBatch?: (report: FuzzReport) => void;
}

/** One thing that went wrong, with what is needed to find it again. */
export interface FuzzFailure {
  readonly family: Family;
  readonly caseSeed: number;
  readonly summary: string;
  readonly problem: string;
}

/** What a run did and found. */
export interface FuzzReport {
  readonly seed: number;
  elapsedMs: number;
  readonly cases: Record<Family, number>;
  /** Answers by HTTP status (`nbd` sessions count as `nbd-greeted` / `nbd-abandoned`). */
  readonly statuses: Record<string, number>;
  readonly failures: FuzzFailure[];
  /** Set when the daemon process ended during the run. */
  daemonExit: string | undefined;
  /** Cases that took longer than slowCaseMs (not failures: the machine may be loaded). */
  readonly slow: FuzzFailure[];
  /** Error lines in the daemon's log (each is also a failure). */
  faultsLogged: number;
}

const failuresMax = 20;
const slowCaseMs = 10_000;
const rawTimeoutMs = 15_000;
const signedTimeoutMs = 60_000;
const volumeGiB = 1;

/** Runs cases until the budget is spent, the daemon dies, or failuresMax failures; never throws for findings. */
export async function runApiFuzz(daemon: FuzzDaemon, options: FuzzOptions): Promise<FuzzReport> {
  const random = seededRandom(options.seed);
  const ids = new KnownIds();
  const report: FuzzReport = {
    seed: options.seed,
    elapsedMs: 0,
    cases: { http: 0, ec2: 0, ebs: 0, nbd: 0 },
    statuses: {},
    failures: [],
    daemonExit: undefined,
    faultsLogged: 0,
    slow: [],
  };
  const started = Date.now();
  const deadline = started + options.seconds * 1000;
  const batchSize = options.batchSize ?? 25;
  const exports = await prepareExports(daemon, ids);
  let total = 0;
  while (Date.now() < deadline && total < (options.casesMax ?? Infinity)) {
    for (let i = 0; i < batchSize && Date.now() < deadline; i++, total++) {
      const family = pickFamily(random());
      const caseSeed = Math.floor(random() * 2 ** 31);
      report.cases[family]++;
      await runCase(daemon, family, caseSeed, ids, exports, report);
    }
    report.elapsedMs = Date.now() - started;
    collectFaults(daemon, report);
    if (!(await stillServing(daemon, report))) break;
    options.onBatch?.(report);
    if (report.failures.length >= (options.failuresMax ?? failuresMax)) break;
  }
  report.elapsedMs = Date.now() - started;
  return report;
}

function pickFamily(roll: number): Family {
  let sum = 0;
  for (const family of families) {
    sum += familyWeights[family];
    if (roll < sum) return family;
  }
  return 'http';
}

// A fault the daemon logged is a finding even when its 5xx reached nobody (the client had hung up).
function collectFaults(daemon: FuzzDaemon, report: FuzzReport): void {
  const lines = daemon.errorLines();
  for (const line of lines.slice(report.faultsLogged)) {
    report.failures.push({
      family: 'http',
      caseSeed: -1,
      summary: 'the daemon logged a fault',
      problem: line.slice(0, 3000),
    });
  }
  report.faultsLogged = lines.length;
}

async function stillServing(daemon: FuzzDaemon, report: FuzzReport): Promise<boolean> {
  if (daemon.alive() && (await daemon.healthy())) return true;
  report.daemonExit = daemon.exitReason() ?? 'alive but the health check failed';
  const problem = `the daemon stopped serving (${report.daemonExit}); log tail:\n${daemon.recentLog()}`;
  report.failures.push({ family: 'http', caseSeed: -1, summary: 'liveness check after a batch', problem });
  return false;
}

interface NbdExports {
  readonly names: readonly string[];
  readonly bytes: number;
}

// A volume and a snapshot of it for NBD sessions; their ids also seed the pool for the other families.
async function prepareExports(daemon: FuzzDaemon, ids: KnownIds): Promise<NbdExports> {
  const call = async (params: Record<string, string>): Promise<string> => {
    const res = await signedRequest(daemon.endpoint, daemon.admin, {
      params: { Version: '2016-11-15', ...params },
      timeoutMs: signedTimeoutMs,
      freshConnection: true,
    });
    if (res.status !== 200) throw new Error(`fuzz setup ${params.Action}: ${res.status} ${res.body}`);
    ids.learn(res.body);
    return res.body;
  };
  const created = await call({
    Action: 'CreateVolume',
    AvailabilityZone: 'us-east-1a',
    Size: String(volumeGiB),
  });
  const volumeId = /<volumeId>(vol-[0-9a-f]+)<\/volumeId>/.exec(created)?.[1] ?? '';
  for (
    let i = 0;
    i < 100 && !(await call({ Action: 'DescribeVolumes', 'VolumeId.1': volumeId })).includes('available');
    i++
  ) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const snapshot = await call({ Action: 'CreateSnapshot', VolumeId: volumeId });
  const snapshotId = /<snapshotId>(snap-[0-9a-f]+)<\/snapshotId>/.exec(snapshot)?.[1] ?? '';
  return { names: [volumeId, snapshotId], bytes: volumeGiB * 2 ** 30 };
}

async function runCase(
  daemon: FuzzDaemon,
  family: Family,
  caseSeed: number,
  ids: KnownIds,
  exports: NbdExports,
  report: FuzzReport,
): Promise<void> {
  const choose = new Chooser(caseSeed);
  let summary = `${family} case ${caseSeed}`;
  const started = Date.now();
  try {
    const outcome = await playCase(daemon, family, choose, ids, exports);
    summary = outcome.summary;
    const ms = Date.now() - started;
    if (ms > slowCaseMs) report.slow.push({ family, caseSeed, summary, problem: `took ${ms} ms` });
    for (const status of outcome.statuses) report.statuses[status] = (report.statuses[status] ?? 0) + 1;
    if (outcome.problem !== undefined)
      report.failures.push({ family, caseSeed, summary, problem: outcome.problem });
  } catch (error) {
    report.failures.push({ family, caseSeed, summary, problem: `no answer: ${String(error)}` });
  }
}

interface Outcome {
  readonly summary: string;
  readonly statuses: readonly string[];
  readonly problem: string | undefined;
}

async function playCase(
  daemon: FuzzDaemon,
  family: Family,
  choose: Chooser,
  ids: KnownIds,
  exports: NbdExports,
): Promise<Outcome> {
  switch (family) {
    case 'http':
      return playHttp(daemon, choose, ids);
    case 'ec2':
      return playEc2(daemon, choose, ids);
    case 'ebs': {
      const one = ebsCase(choose, ids);
      const request = {
        method: one.method,
        path: one.path,
        params: one.query,
        headers: one.headers,
        ...(one.body !== undefined ? { body: one.body } : {}),
        service: 'ebs',
      };
      return playSigned(daemon, one.summary, request, ids);
    }
    case 'nbd':
      return playNbd(daemon, choose, exports);
    default:
      throw new Error(`unknown family ${String(family)}`);
  }
}

function playEc2(daemon: FuzzDaemon, choose: Chooser, ids: KnownIds): Promise<Outcome> {
  const one = ec2Case(choose, ids);
  return playSigned(daemon, one.summary, { method: one.method, params: one.params }, ids);
}

// Every signed request gets an answer: past the body limit a 413 once the body is read, past Node's 16 KiB
// head limit a 431 before a lingering close. A reset or a timeout instead is a finding.
async function playSigned(
  daemon: FuzzDaemon,
  summary: string,
  request: SignedRequestOptions,
  ids: KnownIds,
): Promise<Outcome> {
  try {
    const res = await signedRequest(daemon.endpoint, daemon.admin, {
      ...request,
      timeoutMs: signedTimeoutMs,
      freshConnection: true,
    });
    return judgedSigned(summary, res, ids);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    return { summary, statuses: [code], problem: `no answer: ${String(error)}` };
  }
}

function judgedSigned(
  summary: string,
  res: {
    status: number;
    headers: Readonly<Record<string, string | string[] | undefined>>;
    body: string | Buffer;
  },
  ids: KnownIds,
): Outcome {
  const body = Buffer.isBuffer(res.body) ? res.body : Buffer.from(res.body, 'utf8');
  const contentType = res.headers['content-type'];
  if (res.status < 300) ids.learn(body.toString('latin1'));
  const problem = judgeResponse({
    status: res.status,
    contentType: typeof contentType === 'string' ? contentType : undefined,
    body,
  });
  return { summary, statuses: [String(res.status)], problem };
}

async function playHttp(daemon: FuzzDaemon, choose: Chooser, ids: KnownIds): Promise<Outcome> {
  const one = httpCase(choose, ids);
  const exchange = await rawHttp(daemon.port, one.bytes, {
    timeoutMs: rawTimeoutMs,
    pieceBytes: one.pieceBytes,
  });
  const statuses = exchange.responses.map((response) => String(response.status));
  for (const response of exchange.responses) {
    const problem = judgeResponse({
      status: response.status,
      contentType: response.headers.get('content-type'),
      body: response.body,
    });
    if (problem !== undefined) return { summary: one.summary, statuses, problem };
  }
  const answered = exchange.responses.length > 0 || exchange.trailing.subarray(0, 5).toString() === 'HTTP/';
  if (one.mustAnswer && !answered) {
    const why = exchange.timedOut ? `nothing within ${rawTimeoutMs} ms` : 'the connection closed unanswered';
    return { summary: one.summary, statuses: ['none'], problem: `${why}; got ${preview(exchange.trailing)}` };
  }
  return { summary: one.summary, statuses: answered ? statuses : ['hang-up'], problem: undefined };
}

async function playNbd(daemon: FuzzDaemon, choose: Chooser, exports: NbdExports): Promise<Outcome> {
  const name = choose.chance(0.9)
    ? choose.pick(exports.names)
    : choose.pick(['', 'vol-0', '\0', 'x'.repeat(5000)]);
  const bytes = choose.chance(0.9)
    ? mutate(
        () => choose.next(),
        session(() => choose.next(), name, exports.bytes),
      )
    : choose.bytes(choose.int(0, 600));
  const { output, abandoned } = await play(daemon.nbdSocket, () => choose.next(), bytes);
  const summary = `NBD session on ${JSON.stringify(name.slice(0, 40))}, ${bytes.length} bytes`;
  if (abandoned) return { summary, statuses: ['nbd-abandoned'], problem: undefined };
  // The server greets before reading anything, so every session it accepted starts with the magic.
  const greeted = output.length >= 8 && output.readBigUInt64BE(0) === NBD_MAGIC;
  return {
    summary,
    statuses: ['nbd-greeted'],
    problem: greeted ? undefined : `not greeted: ${preview(output.subarray(0, 64))}`,
  };
}
