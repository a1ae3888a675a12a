// Measures EC2 Query round trips through the whole edge (HTTP, SigV4 verify with a sealed secret, dispatch,
// XML) with the AWS SDK, against an in-process daemon on SQLite: `npx tsx bench/api-requests.ts [requests] [concurrency]`.
import { DescribeAvailabilityZonesCommand } from '@aws-sdk/client-ec2';
import { startTestDaemon } from '../src/api/testing/test-daemon.ts';

const total = Number(process.argv[2] ?? 2000);
const concurrency = Number(process.argv[3] ?? 8);
const strata = await startTestDaemon();
const ec2 = strata.ec2();
const latenciesMs: number[] = [];
await ec2.send(new DescribeAvailabilityZonesCommand({}));
const started = performance.now();
let issued = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (issued++ < total) {
      const t0 = performance.now();
      await ec2.send(new DescribeAvailabilityZonesCommand({}));
      latenciesMs.push(performance.now() - t0);
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
latenciesMs.sort((a, b) => a - b);
const at = (q: number): string => (latenciesMs[Math.floor(q * (latenciesMs.length - 1))] ?? 0).toFixed(2);
console.log(
  `${latenciesMs.length} DescribeAvailabilityZones, concurrency ${concurrency}: ${(latenciesMs.length / seconds).toFixed(0)} req/s, ` +
    `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`,
);
await strata.close();
