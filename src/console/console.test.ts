// The web console end to end, in a real browser: Debian's chromium driven by playwright-core (headless),
// against an in-process daemon with the fake hypervisor. It signs in as a user would (the login form, and
// a `strata console-url` link), creates a volume, snapshots and clones it through the pages, reads the
// lineage graph, runs the demo image and follows its serial console and state badge, and checks that a
// wrong secret is refused and that account B never sees account A's resources. Every page must run
// without browser console errors. STRATA_CONSOLE_SCREENSHOTS=1 also writes docs/console/*.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import {
  CreateSnapshotCommand,
  CreateVolumeCommand,
  DescribeImagesCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
} from '@aws-sdk/client-ec2';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestDaemon } from '../api/testing/test-daemon.ts';
import type { TestDaemon } from '../api/testing/test-daemon.ts';
import { defaultConsoleAssetsDir } from '../api/console/console-assets.ts';
import { registerDemoImage } from '../cloud/images/demo-ami.ts';
import type { AccessKey } from '../cloud/common/accounts.ts';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const strataBin = join(root, 'bin', 'strata');
const chromiumPath = '/usr/bin/chromium';
const screenshotsDir =
  process.env.STRATA_CONSOLE_SCREENSHOTS === '1' ? join(root, 'docs', 'console') : undefined;
const skip = existsSync(chromiumPath)
  ? false
  : `${chromiumPath} is missing (scripts/install-deps.sh installs chromium)`;
const waitMs = 30_000;

let strata: TestDaemon;
let browser: Browser;
const consoleErrors: string[] = [];

before(async () => {
  if (skip !== false) return;
  // scripts/run-tests.mjs builds dist/ (console included) first; a lone run of this file builds the console.
  if (defaultConsoleAssetsDir() === undefined)
    await run(process.execPath, [join(root, 'scripts', 'build.mjs')]);
  strata = await startTestDaemon();
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  await strata?.close();
});

// A fresh tab (its own sessionStorage) that records browser console errors. A 4xx answer the page shows as
// EC2's error is no fault of the page, but Chromium logs each as "Failed to load resource"; those are left out.
async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    if (/Failed to load resource: the server responded with a status of 4\d\d/.test(message.text())) return;
    consoleErrors.push(`${page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => consoleErrors.push(`${page.url()}: ${error.message}`));
  return { context, page };
}

async function signIn(page: Page, key: AccessKey): Promise<void> {
  await page.goto(`${strata.endpoint}/console/`);
  await page.getByLabel('Access key ID').fill(key.accessKeyId);
  await page.getByLabel('Secret access key').fill(key.secretAccessKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor({ timeout: waitMs });
}

async function screenshot(page: Page, name: string): Promise<void> {
  if (screenshotsDir === undefined) return;
  mkdirSync(screenshotsDir, { recursive: true });
  await page.screenshot({ path: join(screenshotsDir, `${name}.png`), fullPage: false });
}

// Waits until the element `selector` contains `text`. A locator, not a page function: the console's CSP
// forbids evaluating strings, and Playwright's locators do not need to.
async function waitForText(page: Page, selector: string, text: string): Promise<void> {
  await page.locator(selector).filter({ hasText: text }).first().waitFor({ timeout: waitMs });
}

function nav(page: Page, section: string): ReturnType<Page['locator']> {
  return page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: section, exact: true });
}

function row(page: Page, id: string): ReturnType<Page['locator']> {
  return page.locator(`tr[data-id="${id}"]`);
}

test('a wrong secret is refused, and nothing is kept', { skip }, async () => {
  const { context, page } = await newPage();
  await page.goto(`${strata.endpoint}/console/`);
  await screenshot(page, 'login');
  await page.getByLabel('Access key ID').fill(strata.admin.accessKeyId);
  await page.getByLabel('Secret access key').fill(`${strata.admin.secretAccessKey}x`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor({ timeout: waitMs });
  assert.match(await alert.innerText(), /Sign-in refused: .*(SignatureDoesNotMatch|AuthFailure)/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('strata.session')), null);
  await context.close();
});

test('a strata console-url link signs in once, and only once', { skip }, async () => {
  const { stdout } = await run(strataBin, ['console-url', '--data-dir', strata.dataDir]);
  const link = stdout.trim();
  assert.match(link, new RegExp(`^${strata.endpoint}/console/#/login\\?token=[A-Za-z0-9_-]{43}$`));
  assert.ok(!link.includes(strata.admin.secretAccessKey), 'the link never carries the secret');
  const first = await newPage();
  await first.page.goto(link);
  await first.page.getByRole('heading', { name: 'Overview' }).waitFor({ timeout: waitMs });
  assert.ok(!first.page.url().includes('token='), 'the spent token leaves the address bar');
  await first.page.getByText('% full').waitFor({ timeout: waitMs });
  await first.context.close();
  const second = await newPage();
  await second.page.goto(link);
  const alert = second.page.getByRole('alert');
  await alert.waitFor({ timeout: waitMs });
  assert.match(await alert.innerText(), /Sign-in link refused: .*already used/);
  await second.context.close();
});

test(
  'create a volume, snapshot it, clone it; the lineage graph shows the three and their edges',
  { skip },
  async () => {
    const { context, page } = await newPage();
    await signIn(page, strata.admin);
    await screenshot(page, 'overview');
    await nav(page, 'Volumes').click();
    const create = page.getByRole('form', { name: 'Create volume' });
    await create.getByLabel('Name').fill('origin');
    await create.getByRole('button', { name: 'Create volume' }).click();
    const originRow = page.locator('tr', { hasText: 'origin' });
    await originRow.locator('[data-state="available"]').waitFor({ timeout: waitMs });
    const volumeId = (await originRow.getAttribute('data-id')) ?? '';
    assert.match(volumeId, /^vol-[0-9a-f]{17}$/);

    await originRow.getByRole('button', { name: 'Snapshot' }).click();
    await page.getByText(`Snapshot ${volumeId}: done`).waitFor({ timeout: waitMs });
    await nav(page, 'Snapshots').click();
    const snapshotRow = page.locator('tr', { hasText: volumeId });
    await snapshotRow.locator('[data-state="completed"]').waitFor({ timeout: waitMs });
    const snapshotId = (await snapshotRow.getAttribute('data-id')) ?? '';
    assert.match(snapshotId, /^snap-[0-9a-f]{17}$/);
    await screenshot(page, 'snapshots');

    await snapshotRow.getByRole('button', { name: 'Create volume' }).click();
    await page.getByText(`Create volume from ${snapshotId}: done`).waitFor({ timeout: waitMs });
    // What the page did, as the API sees it.
    const ec2 = strata.ec2();
    const clones = await ec2.send(
      new DescribeVolumesCommand({ Filters: [{ Name: 'snapshot-id', Values: [snapshotId] }] }),
    );
    const cloneId = clones.Volumes?.[0]?.VolumeId ?? '';
    assert.match(cloneId, /^vol-[0-9a-f]{17}$/);
    await nav(page, 'Volumes').click();
    await row(page, cloneId).locator('[data-state="available"]').waitFor({ timeout: waitMs });
    assert.match(await row(page, cloneId).innerText(), new RegExp(snapshotId));
    await screenshot(page, 'volumes');

    await nav(page, 'Lineage').click();
    const graph = page.getByRole('img', { name: 'Lineage graph' });
    for (const id of [volumeId, snapshotId, cloneId])
      await graph.locator(`[data-id="${id}"]`).waitFor({ timeout: waitMs });
    const edges = await graph
      .locator('polyline.edge')
      .evaluateAll((lines) =>
        lines.map((line) => `${line.getAttribute('data-from')}>${line.getAttribute('data-to')}`),
      );
    assert.ok(edges.includes(`${volumeId}>${snapshotId}`), `volume → snapshot edge in ${edges.join(' ')}`);
    assert.ok(edges.includes(`${snapshotId}>${cloneId}`), `snapshot → clone edge in ${edges.join(' ')}`);
    await screenshot(page, 'lineage');

    // Focus on the clone: its ancestry stays, an unrelated volume goes.
    const other = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${strata.region}a`, Size: 1 }));
    await page.goto(`${strata.endpoint}/console/#/lineage?focus=${cloneId}`);
    await graph.locator(`[data-id="${volumeId}"]`).waitFor({ timeout: waitMs });
    assert.equal(await graph.locator(`[data-id="${other.VolumeId}"]`).count(), 0);

    await page.goto(`${strata.endpoint}/console/#/volumes/${volumeId}`);
    await page.getByRole('img', { name: /Allocation map: 256 cells/ }).waitFor({ timeout: waitMs });
    await page.getByText(`nbdinfo --map`).waitFor({ timeout: waitMs });
    assert.match(await page.locator('main').innerText(), new RegExp(`${snapshotId}`));
    await screenshot(page, 'volume-detail');
    await context.close();
  },
);

// The fake driver never reads an image's disk, so by default the image run here is registered through the
// console's own "Register image" action from a fresh snapshot; building the real demo image costs ~90 s on a
// loaded 2-core host. STRATA_CONSOLE_DEMO_IMAGE=1 runs the real one (what `strata serve --demo-image` registers).
async function imageToRun(page: Page): Promise<string> {
  if (process.env.STRATA_CONSOLE_DEMO_IMAGE === '1')
    return (await registerDemoImage(strata.cloud, strata.admin.accountId)).imageId;
  const ec2 = strata.ec2();
  const volume = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${strata.region}a`, Size: 1 }));
  const snapshot = await ec2.send(new CreateSnapshotCommand({ VolumeId: volume.VolumeId }));
  const snapshotId = snapshot.SnapshotId ?? '';
  await page.goto(`${strata.endpoint}/console/#/snapshots`);
  await row(page, snapshotId).locator('[data-state="completed"]').waitFor({ timeout: waitMs });
  await row(page, snapshotId).getByRole('button', { name: 'Register image' }).click();
  await page.getByText(`Register image from ${snapshotId}: done`).waitFor({ timeout: waitMs });
  const images = await ec2.send(new DescribeImagesCommand({ Owners: ['self'] }));
  const image = images.Images?.find((i) =>
    i.BlockDeviceMappings?.some((m) => m.Ebs?.SnapshotId === snapshotId),
  );
  assert.ok(image?.ImageId !== undefined, `an image of ${snapshotId} in ${JSON.stringify(images.Images)}`);
  return image.ImageId;
}

test(
  'run an image: the serial console shows text, and the badge follows stop and start',
  { skip },
  async () => {
    const { context, page } = await newPage();
    await signIn(page, strata.admin);
    const imageId = await imageToRun(page);
    await nav(page, 'Images').click();
    await row(page, imageId).waitFor({ timeout: waitMs });
    await screenshot(page, 'images');
    await nav(page, 'Instances').click();
    const runForm = page.getByRole('form', { name: 'Run instance' });
    await runForm.locator(`option[value="${imageId}"]`).waitFor({ state: 'attached', timeout: waitMs });
    await runForm.getByLabel('Image').selectOption(imageId);
    await runForm.getByRole('button', { name: 'Run instance' }).click();
    const instanceRow = page.locator('tbody tr').first();
    await instanceRow.locator('[data-state="running"]').waitFor({ timeout: waitMs });
    const instanceId = (await instanceRow.getAttribute('data-id')) ?? '';
    assert.match(instanceId, /^i-[0-9a-f]{17}$/);
    await screenshot(page, 'instances');

    await instanceRow.getByRole('link', { name: instanceId }).click();
    const serial = page.getByLabel('Serial console');
    await waitForText(page, 'pre.serial-console', 'STRATA-DEMO: booted');
    assert.match(await serial.innerText(), /STRATA-DEMO: booted count=1/);
    await page.locator(`a[href^="#/volumes/vol-"]`).first().waitFor({ timeout: waitMs });
    await screenshot(page, 'instance-detail');

    const badge = page
      .getByRole('heading', { name: new RegExp(`Instance ${instanceId}`) })
      .locator('[data-state]');
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.getByRole('heading').locator('[data-state="stopped"]').waitFor({ timeout: waitMs });
    assert.equal(await badge.getAttribute('data-state'), 'stopped');
    await page.getByRole('button', { name: 'Start' }).click();
    await page.getByRole('heading').locator('[data-state="running"]').waitFor({ timeout: waitMs });
    await waitForText(page, 'pre.serial-console', 'count=2');
    await context.close();
  },
);

test('an action that fails shows EC2 error message', { skip }, async () => {
  const { context, page } = await newPage();
  await signIn(page, strata.admin);
  await page.goto(`${strata.endpoint}/console/#/volumes`);
  const create = page.getByRole('form', { name: 'Create volume' });
  await create.getByLabel('From snapshot').fill('snap-0123456789abcdef0');
  await create.getByRole('button', { name: 'Create volume' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor({ timeout: waitMs });
  assert.match(
    await alert.innerText(),
    /Create volume failed: InvalidSnapshot\.NotFound: The snapshot 'snap-0123456789abcdef0' does not exist/,
  );
  await context.close();
});

test("account B's console never shows account A's resources", { skip }, async () => {
  const bob = await strata.createAccount('bob');
  const mine = await strata.ec2().send(new DescribeVolumesCommand({}));
  const aliceVolumes = (mine.Volumes ?? []).map((v) => v.VolumeId ?? '');
  const aliceSnapshots = (
    (await strata.ec2().send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))).Snapshots ?? []
  ).map((s) => s.SnapshotId ?? '');
  assert.ok(aliceVolumes.length >= 3 && aliceSnapshots.length >= 1, 'account A has resources to hide');
  const { context, page } = await newPage();
  await signIn(page, bob);
  for (const section of ['volumes', 'snapshots', 'images', 'instances', 'lineage']) {
    await page.goto(`${strata.endpoint}/console/#/${section}`);
    await page.locator('main h1').waitFor({ timeout: waitMs });
    await page.locator('main', { hasText: 'Loading…' }).waitFor({ state: 'detached', timeout: waitMs });
    const text = await page.locator('main').innerText();
    for (const id of [...aliceVolumes, ...aliceSnapshots])
      assert.ok(!text.includes(id), `${section} shows A's ${id}`);
  }
  // A's volume by its id: the extension API answers NotFound, as EC2 would.
  await page.goto(`${strata.endpoint}/console/#/volumes/${aliceVolumes[0]}`);
  await page
    .getByText(/ResourceNotFoundException|InvalidVolume\.NotFound/)
    .first()
    .waitFor({ timeout: waitMs });
  await context.close();
});

test('no page logged a browser console error', { skip }, () => {
  assert.deepEqual(consoleErrors, []);
});
