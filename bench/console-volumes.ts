// Time to first render of the console's volumes page with many volumes (issue 16: target under 1 s with
// 10,000). An in-process daemon (fake hypervisor) gets N volumes; headless chromium (Debian's, through
// playwright-core) opens #/volumes with the keys already in its session, and the clock runs from the
// navigation to the first table row on screen (the page shows the first 200; "Show 200 more" pages on).
// Each run is a fresh tab, so the bundle is fetched and parsed every time.
// Run by hand:
//   node --import tsx bench/console-volumes.ts                 # 10,000 volumes, 5 runs
//   node --import tsx bench/console-volumes.ts --count 200 --runs 2
import { DescribeVolumesCommand } from '@aws-sdk/client-ec2';
import { chromium } from 'playwright-core';
import { startTestDaemon } from '../src/api/testing/test-daemon.ts';
import { noDryRun } from '../src/cloud/common/dry-run.ts';

const flag = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(name);
  const value = at > 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} needs a positive integer`);
  return value;
};
const count = flag('--count', 10_000);
const runs = flag('--runs', 5);
const concurrency = 16;

const strata = await startTestDaemon();
try {
  const createStarted = performance.now();
  const zone = strata.cloud.regions.zones[0]?.zoneName;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next += 1;
      await strata.cloud.ebs.volumes.create(strata.admin.accountId, {
        zone,
        sizeGiB: 1,
        snapshotId: undefined,
        volumeType: undefined,
        iops: undefined,
        throughput: undefined,
        encrypted: undefined,
        kmsKeyId: undefined,
        multiAttachEnabled: undefined,
        tagSpecifications: [],
        clientToken: undefined,
        dryRun: noDryRun,
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await strata.cloud.ebs.idle();
  console.log(`${count} volumes created in ${((performance.now() - createStarted) / 1000).toFixed(1)} s`);

  // The API part of the first render, for comparison: the page's first call, from Node.
  const describeStarted = performance.now();
  const firstPage = await strata.ec2().send(new DescribeVolumesCommand({ MaxResults: 200 }));
  console.log(
    `DescribeVolumes MaxResults=200 (${firstPage.Volumes?.length} volumes) from Node: ${Math.round(performance.now() - describeStarted)} ms`,
  );
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox'],
  });
  const session = JSON.stringify({ ...strata.admin, region: strata.region });
  const times: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addInitScript(`sessionStorage.setItem('strata.session', ${JSON.stringify(session)})`);
    const page = await context.newPage();
    const started = performance.now();
    await page.goto(`${strata.endpoint}/console/#/volumes`);
    await page.locator('header.top').waitFor({ timeout: 60_000 });
    const bootedMs = performance.now() - started;
    await page.locator('tr[data-id]').first().waitFor({ timeout: 60_000 });
    times.push(performance.now() - started);
    const rows = await page.locator('tr[data-id]').count();
    console.log(
      `run ${run + 1}: first render in ${Math.round(times.at(-1) ?? 0)} ms (app up after ${Math.round(bootedMs)} ms; ${rows} rows on the page)`,
    );
    await context.close();
  }
  await browser.close();
  const sorted = [...times].sort((a, b) => a - b);
  console.log(
    `time to first render of #/volumes with ${count} volumes: median ${Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0)} ms, ` +
      `min ${Math.round(sorted[0] ?? 0)} ms, max ${Math.round(sorted.at(-1) ?? 0)} ms over ${runs} runs`,
  );
} finally {
  await strata.close();
}
