// The system fuzzer for long runs: starts `strata serve --hypervisor fake` on 127.0.0.1, fuzzes it
// (raw HTTP, signed EC2 Query, signed EBS direct, NBD) for --seconds, prints progress and a JSON report,
// and exits 1 on any finding. The test suite runs the same fuzzer briefly (src/api/fuzz/fuzz-api.test.ts).
//   node --import tsx bench/fuzz-api.ts --seconds 1800              # a 30-minute run, random seed
//   node --import tsx bench/fuzz-api.ts --seconds 120 --seed 12345  # replay a run's case sequence
//   … --daemon-log /tmp/daemon.log                                  # keep the daemon's debug log
// STRATA_API_FUZZ_SEED and STRATA_API_FUZZ_SECONDS work too.
import { parseArgs } from 'node:util';
import { runApiFuzz } from '../src/api/fuzz/api-fuzzer.ts';
import { startFuzzDaemon } from '../src/api/fuzz/fuzz-daemon.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string' }, seed: { type: 'string' }, 'daemon-log': { type: 'string' } },
});
const seconds = Number(values.seconds ?? process.env.STRATA_API_FUZZ_SECONDS ?? 120);
const seed = Number(values.seed ?? process.env.STRATA_API_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
if (!(seconds > 0) || !Number.isSafeInteger(seed))
  throw new Error('--seconds must be positive and --seed an integer');

console.log(`fuzzing the API for ${seconds} s with seed ${seed} (replay: --seed ${seed})`);
const logFile = values['daemon-log'];
const daemon = await startFuzzDaemon(logFile !== undefined ? { logFile, logLevel: 'debug' } : {});
let lastPrint = 0;
let printed = 0;
const report = await runApiFuzz(daemon, {
  seed,
  seconds,
  failuresMax: 1000,
  onBatch: (progress) => {
    for (const failure of progress.failures.slice(printed))
      console.log(`failure: ${JSON.stringify(failure)}`);
    printed = progress.failures.length;
    if (progress.elapsedMs - lastPrint < 30_000) return;
    lastPrint = progress.elapsedMs;
    const sent = Object.values(progress.cases).reduce((a, b) => a + b, 0);
    console.log(
      `${Math.round(progress.elapsedMs / 1000)} s: ${sent} cases, ${progress.failures.length} failures`,
    );
  },
});
const alive = daemon.alive();
const errorLines = daemon.errorLines();
const sent = Object.values(report.cases).reduce((a, b) => a + b, 0);
const fiveHundreds = Object.entries(report.statuses)
  .filter(([status]) => /^5\d\d$/.test(status))
  .reduce((sum, [, count]) => sum + count, 0);
// Signed requests that got a socket error (ECONNRESET, EPIPE) instead of an answer; each is also a failure.
const resets = Object.entries(report.statuses)
  .filter(([status]) => /^E[A-Z]+$/.test(status))
  .reduce((sum, [, count]) => sum + count, 0);
const summary = {
  ...report,
  sent,
  fiveHundreds,
  resets,
  daemonExits: alive ? 0 : 1,
  daemonErrorLines: errorLines.length,
};
console.log(JSON.stringify(summary, null, 2));
for (const line of errorLines.slice(0, 10)) console.log(`daemon error: ${line.slice(0, 2000)}`);
let stopped = true;
try {
  await daemon.close();
} catch (error) {
  stopped = false;
  console.log(String(error));
}
process.exit(report.failures.length === 0 && alive && fiveHundreds === 0 && stopped ? 0 : 1);
