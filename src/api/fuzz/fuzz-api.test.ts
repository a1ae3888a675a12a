// The bounded system fuzz run: a real `strata serve --hypervisor fake`, fuzzed over raw HTTP, signed EC2
// Query, signed EBS direct and NBD for STRATA_API_FUZZ_SECONDS (default 120; set it higher for a longer run,
// or use bench/fuzz-api.ts). It prints its seed; STRATA_API_FUZZ_SEED=<seed> replays the case sequence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runApiFuzz } from './api-fuzzer.ts';
import { startFuzzDaemon } from './fuzz-daemon.ts';

const seconds = Number(process.env.STRATA_API_FUZZ_SECONDS ?? 120);
const seed = Number(process.env.STRATA_API_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

test(
  `the daemon survives ${seconds} s of fuzzing with no 5xx and parseable answers, and stops on SIGTERM (seed ${seed})`,
  { timeout: (seconds + 240) * 1000 },
  async () => {
    const daemon = await startFuzzDaemon();
    try {
      const report = await runApiFuzz(daemon, { seed, seconds });
      const sent = Object.values(report.cases).reduce((a, b) => a + b, 0);
      console.log(
        `API fuzz, seed ${seed}: ${sent} cases ${JSON.stringify(report.cases)}, answers ${JSON.stringify(report.statuses)}`,
      );
      assert.deepEqual(report.failures, [], `replay with STRATA_API_FUZZ_SEED=${seed}`);
      assert.equal(report.daemonExit, undefined);
      assert.ok(daemon.alive(), 'the daemon process still runs');
      assert.ok(await daemon.healthy(), 'the daemon still answers its health check');
      for (const [family, count] of Object.entries(report.cases))
        assert.ok(count > 0, `no ${family} cases ran`);
      assert.ok(sent >= seconds, `only ${sent} cases in ${seconds} s`);
      const fiveHundreds = Object.keys(report.statuses).filter((status) => status.startsWith('5'));
      assert.deepEqual(fiveHundreds, []);
      assert.ok(
        (report.statuses['200'] ?? 0) > 0,
        'some requests succeeded, so the fuzz reached the actions',
      );
    } finally {
      // SIGTERM must stop it within the grace time, whatever the fuzz left open (close() throws if not).
      await daemon.close();
    }
  },
);
