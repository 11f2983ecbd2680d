/**
 * The web UI in a real headless Chromium (Debian's `chromium`, driven by playwright-core) against
 * a real daemon and a real guest: login link → cookie, create a VM and watch it turn running without
 * a reload, a terminal that runs `uname -a` and follows a resize, a change in the guest shown as a
 * diff and applied (staged) to the host repo, the CLI's refusal on a second apply, stop and delete.
 * Screenshots of every page go to .tmp/ui-screenshots/ (look at them: see the report).
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { freshInstall, REPO, type Install } from '../../test/install.fixture.js';
import { g, makeRepo } from '../../test/gitrepo.fixture.js';

const SHOTS = join(REPO, '.tmp', 'ui-screenshots');
let inst: Install;
let browser: Browser;
let page: Page;
let repo: string;

const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
const screenText = () => page.locator('.xterm-rows').innerText();
async function typeLine(line: string): Promise<void> {
  await page.locator('.term-host').click();
  await page.keyboard.type(`${line}\n`, { delay: 5 });
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  inst = await freshInstall();
  repo = mkdtempSync('/tmp/bt-ui-repo-');
  await makeRepo(repo, { 'README.md': 'hello from the host\n', 'src/main.txt': 'one\ntwo\nthree\n' });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
}, 1_800_000);
afterAll(async () => {
  await browser?.close();
  await inst?.destroy();
});

describe('web UI in a real browser', () => {
  it('drives a VM from login to delete', async () => {
    const url = (await inst.cli(['ui'], { check: true })).stdout.trim();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    const offsite: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(new URL(url).origin) && !r.url().startsWith('data:')) offsite.push(r.url());
    });
    page.on('dialog', (d) => void d.accept());
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));

    // the token becomes a cookie and leaves the address bar
    await page.goto(url);
    expect(new URL(page.url()).pathname).toBe('/ui/');
    expect(page.url()).not.toContain('token');
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ name: 'banger_ui', httpOnly: true, sameSite: 'Strict', path: '/ui' });
    await page.locator('.conn.ok').waitFor();
    await shot('01-vms-empty');

    // create (with a workspace from the host repo): the row turns running without a reload
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    // Every state the row is rendered in, in order, recorded in the page: reading the attribute from
    // the test instead races a fast boot (a warm restore can reach running before the next poll).
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { uivmStates: string[] }).uivmStates = seen;
      const note = () => {
        const s = document.querySelector('tr[data-vm="uivm"]')?.getAttribute('data-state');
        if (s && seen[seen.length - 1] !== s) seen.push(s);
      };
      new MutationObserver(note).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
    });
    await page.fill('input[name=name]', 'uivm');
    await page.fill('input[name=repo]', repo);
    await page.click('form.create button[type=submit]');
    const row = page.locator('tr[data-vm="uivm"]');
    await row.waitFor({ timeout: 60_000 }); // appears from the create event, before the boot finishes
    await shot('02-vms-creating');
    await page.locator('tr[data-vm="uivm"][data-state="running"]').waitFor({ timeout: 600_000 });
    const states = await page.evaluate(() => (window as unknown as { uivmStates: string[] }).uivmStates);
    expect(states[0], states.join(' -> ')).not.toBe('running');
    expect(states).toContain('running');
    await page.locator('.task.done[data-task="create uivm"]').waitFor({ timeout: 300_000 });
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    await expect.poll(() => row.locator('td').nth(6).innerText(), { timeout: 30_000 }).toContain('/root/repo');
    await shot('03-vms-running');

    // the VM page: overview with stats charts (a few samples)
    await row.locator('a').first().click();
    await page.locator('h1 >> text=uivm').waitFor();
    await page.waitForTimeout(6000);
    await shot('04-vm-overview');

    // terminal: uname -a read back from the screen; a resize reaches the guest's pty
    await page.click('button[role=tab]:has-text("Terminal")');
    await page.locator('text=Terminal: connected').waitFor({ timeout: 60_000 });
    await typeLine('uname -a');
    await expect.poll(screenText, { timeout: 60_000 }).toMatch(/Linux uivm \S+/);
    await typeLine("echo COLS=$(stty size | cut -d' ' -f2)");
    await expect.poll(screenText, { timeout: 30_000 }).toMatch(/COLS=\d+/);
    const wide = Number(/COLS=(\d+)/.exec(await screenText())![1]);
    await shot('06-vm-terminal');
    await page.setViewportSize({ width: 700, height: 800 });
    await page.waitForTimeout(1000);
    await typeLine("clear; echo NARROW=$(stty size | cut -d' ' -f2)");
    await expect.poll(screenText, { timeout: 30_000 }).toMatch(/NARROW=\d+/);
    const narrow = Number(/NARROW=(\d+)/.exec(await screenText())![1]);
    expect(wide).toBeGreaterThan(100);
    expect(narrow).toBeLessThan(wide);
    await shot('07-vm-terminal-narrow');
    await page.setViewportSize({ width: 1280, height: 800 });

    // the serial console follows what the guest writes to it (a warm-restored VM has no boot log)
    await typeLine('echo UI-CONSOLE-$((40+2)) > /dev/console');
    await page.click('button[role=tab]:has-text("Console")');
    await expect.poll(() => page.locator('pre.console').innerText(), { timeout: 30_000 }).toContain('UI-CONSOLE-42');
    await shot('05-vm-console');
    await page.click('button[role=tab]:has-text("Terminal")');
    await page.locator('text=Terminal: connected').waitFor({ timeout: 60_000 });

    // change a file in the guest (the terminal starts in the workspace), see it in the diff
    await typeLine("echo 'changed in the guest' >> README.md && sed -i s/two/TWO/ src/main.txt && echo DONE-EDIT");
    await expect.poll(screenText, { timeout: 30_000 }).toContain('DONE-EDIT');
    await page.click('button[role=tab]:has-text("Workspace")');
    await page.click('button:has-text("Show diff")');
    const readme = page.locator('article.file[data-file="README.md"]');
    await readme.waitFor({ timeout: 120_000 });
    expect(await readme.locator('tr.add').innerText()).toContain('changed in the guest');
    expect(await page.locator('ul.filelist li').allInnerTexts()).toEqual([expect.stringMatching(/^README\.md modified/), expect.stringMatching(/^src\/main\.txt modified/)]);
    await shot('08-vm-diff-unified');
    await page.click('button:has-text("Side by side")');
    const split = page.locator('article.file[data-file="src/main.txt"] table.split');
    expect(await split.locator('td.del').innerText()).toBe('two');
    expect(await split.locator('td.add').innerText()).toBe('TWO');
    await shot('09-vm-diff-split');

    // apply: staged in the host repo; a second apply meets the CLI's own refusal
    await page.click('button:has-text("Apply to host repo")');
    await page.locator('p.ok:has-text("Applied to")').waitFor({ timeout: 120_000 });
    const staged = await g(repo, 'diff', '--cached');
    expect(staged).toContain('+changed in the guest');
    expect(staged).toContain('+TWO');
    await page.click('button:has-text("Apply to host repo")');
    const refused = page.locator('.task.failed .error').first();
    await refused.waitFor({ timeout: 120_000 });
    const cli = await inst.cli(['vm', 'workspace', 'export', 'uivm', '--apply']);
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toContain(await refused.innerText());
    expect(await refused.innerText()).toMatch(/would overwrite uncommitted changes/);
    await shot('10-vm-apply');

    // images and doctor pages of this install
    await page.goto(new URL('/ui/#/artifacts', url).href);
    await page.locator('tr[data-image]').first().waitFor({ timeout: 30_000 });
    expect(await page.locator('tr[data-image] td').nth(4).innerText()).toContain('uivm'); // used by
    await shot('11-artifacts');
    await page.goto(new URL('/ui/#/doctor', url).href);
    await page.locator('ul.doctor li').first().waitFor({ timeout: 60_000 });
    await shot('12-doctor');
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.setViewportSize({ width: 420, height: 800 });
    await page.goto(new URL('/ui/#/', url).href);
    await page.locator('tr[data-vm="uivm"]').waitFor();
    await shot('13-vms-narrow-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1280, height: 800 });

    // stop and delete from the list: the row follows, then goes
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    await page.click('tr[data-vm="uivm"] button:has-text("Stop")');
    await page.locator('tr[data-vm="uivm"][data-state="stopped"]').waitFor({ timeout: 120_000 });
    await shot('14-vms-stopped');
    await page.click('tr[data-vm="uivm"] button:has-text("Delete")');
    await page.locator('tr[data-vm="uivm"]').waitFor({ state: 'detached', timeout: 120_000 });
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    await shot('15-vms-deleted');
    expect(JSON.parse((await inst.cli(['vm', 'list', '--json'])).stdout)).toEqual([]);

    expect(offsite).toEqual([]);
    expect(errors).toEqual([]);
  }, 1_800_000);
});
