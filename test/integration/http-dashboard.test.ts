// The dashboard in a real headless Chromium (Debian chromium, driven by
// playwright-core) against the real service: builds the test dispatched, a
// build's log following live while the agent prints, every page screenshotted
// into the test's temp dir and checked not blank, no CSP violation.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startHttpServer, type HttpServer } from '../../reconciler/http/server.ts';
import { makeRepo } from '../helpers/git.ts';
import { quietLog, startService, type Service } from '../helpers/kiln-service.ts';

let svc: Service;
let browser: BrowserContext;
let shots: string;
const problems: string[] = [];

before(async () => {
  shots = await mkdtemp(join(tmpdir(), 'kiln-dashboard-'));
  svc = await startService(['alpha', 'live'], { hold: ['live'] });
  browser = await chromium.launchPersistentContext(join(shots, 'profile'), {
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'],
  });
  browser.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  browser.on('weberror', (e) => problems.push(String(e.error())));
});
after(async () => {
  await browser?.close();
  await svc?.close();
  if (!process.env.KILN_KEEP_SCREENSHOTS) await rm(shots, { recursive: true, force: true });
  else console.log(`screenshots in ${shots}`);
});

/** Screenshot into the temp dir; not blank: the picture has many distinct colours (decoded by the browser itself). */
async function screenshot(page: Page, name: string): Promise<string> {
  const png = await page.screenshot({ fullPage: true });
  const file = join(shots, `${name}.png`);
  await writeFile(file, png);
  const probe = await browser.newPage();
  const colours = await probe.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const g = c.getContext('2d')!;
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    const seen = new Set<number>();
    for (let i = 0; i < d.length; i += 4) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    return seen.size;
  }, png.toString('base64'));
  await probe.close();
  assert.ok(colours > 20, `${name}.png is not blank (${colours} colours)`);
  return file;
}

test('dashboard - the builds list shows the builds the test dispatched', async () => {
  const page = await browser.newPage();
  const res = await page.goto(`${svc.url}/#/builds`);
  assert.match(res?.headers()['content-security-policy'] ?? '', /script-src 'self'/);
  await page.locator('tr', { hasText: 'alpha' }).locator('.badge', { hasText: 'succeeded' }).waitFor({ timeout: 60_000 });
  await page.locator('tr', { hasText: 'live' }).locator('.badge', { hasText: 'running' }).waitFor({ timeout: 60_000 });
  assert.match(await page.locator('tr', { hasText: 'alpha' }).innerText(), /test-agent/);
  await screenshot(page, 'builds');
  await page.close();
});

test('dashboard - a build page follows the live log as the agent prints', async () => {
  const page = await browser.newPage();
  await page.goto(`${svc.url}/#/builds`);
  await page.locator('tr', { hasText: 'live' }).locator('a').first().click();
  const log = page.locator('#log');
  await page.waitForFunction(() => document.getElementById('log')?.textContent?.includes('before release line 3'), undefined, { timeout: 30_000 });
  assert.doesNotMatch(await log.innerText(), /after release/, 'the agent still holds the build');
  await screenshot(page, 'build-live');
  svc.runner.release('live');
  await page.waitForFunction(() => document.getElementById('log')?.textContent?.includes('after release line 2'), undefined, { timeout: 30_000 });
  await page.locator('#log-state', { hasText: 'attempt ended: succeeded' }).waitFor({ timeout: 30_000 });
  await page.close();
});

test('dashboard - agents, distributions and the audit trail render, each status commit linked', async () => {
  const page = await browser.newPage();
  await page.goto(`${svc.url}/#/agents`);
  await page.locator('td', { hasText: 'test-agent' }).waitFor({ timeout: 20_000 });
  await screenshot(page, 'agents');
  await page.goto(`${svc.url}/#/distributions`);
  await page.locator('main .empty, main .card').first().waitFor({ timeout: 20_000 });
  await screenshot(page, 'distributions');
  await page.goto(`${svc.url}/#/audit`);
  const first = page.locator('main table tbody tr').first();
  await first.waitFor({ timeout: 20_000 });
  assert.match(await first.innerText(), /Kiln-Desired: [0-9a-f]{40}/);
  const link = first.locator('a[href^="#/audit/"]').first();
  const target = (await link.getAttribute('href'))!.slice('#/audit/'.length);
  await link.click();
  await page.locator(`tr.highlight[id="c-${target}"]`).waitFor({ timeout: 10_000 });
  await screenshot(page, 'audit');
  await page.close();
});

test('dashboard - empty states say what to do', async () => {
  const repo = await makeRepo({ 'README': 'no packages yet\n' });
  const empty: HttpServer = await startHttpServer({ repoDir: repo.dir, log: quietLog });
  try {
    const page = await browser.newPage();
    await page.goto(`${empty.url}/#/builds`);
    await page.locator('.empty', { hasText: 'no builds yet: commit a package to the metadata repo' }).waitFor({ timeout: 10_000 });
    await screenshot(page, 'builds-empty');
    await page.goto(`${empty.url}/#/audit`);
    await page.locator('.empty', { hasText: 'no status commits yet' }).waitFor({ timeout: 10_000 });
    await page.close();
  } finally {
    await empty.close();
    await rm(repo.dir, { recursive: true, force: true });
  }
  assert.deepEqual(problems.filter((p) => /Content Security Policy|Refused/.test(p)), [], 'no CSP violation');
});
