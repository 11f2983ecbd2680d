/**
 * The web UI in a real headless Chromium against a real daemon, without booting a guest: VMs made
 * with `vm create --no-start` appear in the open page without a reload, the UI's delete removes one,
 * a refused action shows banger's own message (the CLI's guard on deleting a used image), and no
 * request leaves the listener. Screenshots go to .tmp/ui-screenshots/host-*.png.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { freshInstall, REPO, type Install } from '../../test/install.fixture.js';

const SHOTS = join(REPO, '.tmp', 'ui-screenshots');
let inst: Install;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  inst = await freshInstall();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
}, 1_800_000);
afterAll(async () => {
  await browser?.close();
  await inst?.destroy();
});

describe('web UI in a real browser (no guest)', () => {
  it('follows the daemon live, acts, and shows refusals in banger\'s words', async () => {
    const url = (await inst.cli(['ui'], { check: true })).stdout.trim();
    const origin = new URL(url).origin;
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const offsite: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => void (!r.url().startsWith(origin) && !r.url().startsWith('data:') && offsite.push(r.url())));
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('dialog', (d) => void d.accept());
    const shot = (n: string) => page.screenshot({ path: join(SHOTS, `host-${n}.png`), fullPage: true });

    await page.goto(url);
    expect(page.url()).toBe(`${origin}/ui/`);
    expect(await context.cookies()).toEqual([expect.objectContaining({ name: 'banger_ui', httpOnly: true, sameSite: 'Strict' })]);
    await page.locator('.conn.ok').waitFor();
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));

    // VMs created by the CLI appear without a reload
    for (const n of ['alpha', 'beta']) await inst.cli(['vm', 'create', '--name', n, '--no-start', '--vcpu', '2'], { check: true });
    await page.locator('tr[data-vm="beta"][data-state="stopped"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('tr[data-vm]').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.vm))).toEqual(['alpha', 'beta']);
    // a change made by the CLI (vm set) shows too
    await inst.cli(['vm', 'set', 'alpha', '--memory', '1536'], { check: true });
    await expect.poll(() => page.locator('tr[data-vm="alpha"]').innerText(), { timeout: 15_000 }).toContain('1536 MiB');
    await shot('vms');

    // a refused action: deleting the image the VMs use, with the CLI's own message
    await page.click('a:has-text("Images")');
    await page.locator('tr[data-image]').first().waitFor();
    expect(await page.locator('tr[data-image] td').nth(4).innerText()).toBe('alpha, beta');
    await page.locator('tr[data-image] button:has-text("Delete")').first().click();
    const refused = page.locator('.task.failed .error');
    await refused.waitFor({ timeout: 30_000 });
    const image = await page.locator('tr[data-image] td').first().innerText();
    const cli = await inst.cli(['image', 'delete', image]);
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toContain(await refused.innerText());
    await shot('artifacts');

    // the UI deletes a VM and the row goes; the CLI sees it gone
    await page.click('nav a:has-text("VMs")');
    await page.click('tr[data-vm="alpha"] button:has-text("Delete")');
    await page.locator('tr[data-vm="alpha"]').waitFor({ state: 'detached', timeout: 30_000 });
    expect((JSON.parse((await inst.cli(['vm', 'list', '--json'])).stdout) as Array<{ name: string }>).map((v) => v.name)).toEqual(['beta']);
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);

    // a VM page, doctor, narrow and dark
    await page.click('a:has-text("beta")');
    await page.locator('h1:has-text("beta")').waitFor();
    await shot('vm-stopped');
    await page.click('nav a:has-text("Doctor")');
    await page.locator('ul.doctor li').first().waitFor({ timeout: 60_000 });
    expect(await page.locator('ul.doctor li').first().innerText()).toMatch(/^(pass|warn|fail)/i);
    await shot('doctor');
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.setViewportSize({ width: 400, height: 760 });
    await page.click('nav a:has-text("VMs")');
    await page.locator('tr[data-vm="beta"]').waitFor();
    await shot('vms-narrow-dark');
    // keyboard: Tab reaches the create form and the row actions
    await page.keyboard.press('Tab');
    const focused: string[] = [];
    for (let i = 0; i < 20; i++) {
      focused.push(await page.evaluate(() => `${document.activeElement?.tagName}:${(document.activeElement as HTMLElement | null)?.innerText ?? ''}`));
      await page.keyboard.press('Tab');
    }
    expect(focused).toEqual(expect.arrayContaining(['BUTTON:Create', 'BUTTON:Start', 'BUTTON:Delete']));

    expect(offsite).toEqual([]);
    expect(errors).toEqual([]);
  }, 600_000);
});
