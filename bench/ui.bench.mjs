// Issue 16 bench: the web UI's figures, in headless Chromium (Debian's chromium) against a real
// daemon of an isolated install (golden kernel + image, like the tests):
//  - page weight (gzip, as served) of what the first page loads, and of the lazily loaded terminal;
//  - time from a VM record change in the daemon (its updatedAt) to the list row changing in the DOM,
//    median, for creates (`vm create --no-start`) and changes (`vm set`) made through the CLI;
//    baseline: one `banger vm list --json` round trip (what each poll of a polling UI costs at least);
//  - first render of the VM list with 20 VMs (created with --no-start: they exist in the store, not running),
//    median of 5 loads; baseline: the same page with no VM.
//   npm run build:fixtures && node bench/ui.bench.mjs
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { freshInstall } from '../.tmp/test-dist/test/install.fixture.js';
import { median } from './lib.mjs';

const repo = new URL('..', import.meta.url).pathname;
const inst = await freshInstall();
const banger = (...args) => {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [join(repo, 'bin', 'banger'), ...args], { env: inst.env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`banger ${args.join(' ')}: ${r.stderr}`);
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, out: r.stdout.trim() };
};
const gzBytes = (url, cookie) =>
  new Promise((resolve, reject) => {
    const u = new URL(url);
    request({ host: u.hostname, port: u.port, path: u.pathname, headers: { cookie, 'accept-encoding': 'gzip' } }, (res) => {
      let n = 0;
      res.on('data', (d) => (n += d.length));
      res.on('end', () => resolve(n));
    })
      .on('error', reject)
      .end();
  });

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const url = banger('ui').out;
  const origin = new URL(url).origin;
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const loaded = [];
  page.on('response', (r) => loaded.push(r.url()));
  await page.goto(url);
  await page.locator('.conn.ok').waitFor();
  const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');

  // page weight: every file the first page loaded, gzip as served; the terminal chunk apart
  const first = [...new Set(loaded.filter((u) => u.startsWith(origin) && !u.includes('/ui/login') && !u.includes('/ui/events')))];
  let firstGz = 0;
  for (const u of first) firstGz += await gzBytes(u, cookie);
  const term = (await (await page.request.get(`${origin}/ui/assets/app.js`)).text()).match(/terminal-[A-Z0-9]+\.js/)?.[0];
  const termGz = term ? await gzBytes(`${origin}/ui/assets/${term}`, cookie) : NaN;

  // event → DOM latency: the page notes when each row appears or changes; the daemon's updatedAt is when it wrote the change
  await page.evaluate(() => {
    window.seen = [];
    new MutationObserver(() => {
      for (const tr of document.querySelectorAll('tr[data-vm]')) {
        const key = `${tr.dataset.vm}|${tr.textContent}`;
        if (!window.seenKeys?.has(key)) ((window.seenKeys ??= new Set()).add(key), window.seen.push({ name: tr.dataset.vm, text: tr.textContent, at: Date.now() }));
      }
    }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  });
  const lat = [];
  const polls = [];
  for (let i = 0; i < 20; i++) {
    const name = `b${String(i).padStart(2, '0')}`;
    banger('vm', 'create', '--name', name, '--no-start');
    const vm = JSON.parse(banger('vm', 'show', name).out);
    const at = await page.waitForFunction((n) => window.seen.find((s) => s.name === n)?.at, name).then((h) => h.jsonValue());
    lat.push(at - Date.parse(vm.updatedAt));
    polls.push(banger('vm', 'list', '--json').ms);
  }
  for (let i = 0; i < 10; i++) {
    const name = `b${String(i).padStart(2, '0')}`;
    banger('vm', 'set', name, '--vcpu', String(2 + (i % 2)));
    const vm = JSON.parse(banger('vm', 'show', name).out);
    const at = await page.waitForFunction(([n, v]) => window.seen.find((s) => s.name === n && s.text.includes(`${v} MiB`) && s.at)?.at, [name, vm.memoryMib]).then((h) => h.jsonValue());
    lat.push(Math.max(0, at - Date.parse(vm.updatedAt)));
  }

  // first render with 20 VMs vs none
  const render = async (want) => {
    const xs = [];
    for (let i = 0; i < 5; i++) {
      const p = await context.newPage();
      await p.goto(`${origin}/ui/`);
      await p.waitForFunction((n) => (n === 0 ? document.querySelector('p.empty')?.textContent?.startsWith('No VMs') : document.querySelectorAll('tr[data-vm]').length === n), want);
      xs.push(await p.evaluate(() => performance.now()));
      await p.close();
    }
    return median(xs);
  };
  const r20 = await render(20);
  for (let i = 0; i < 20; i++) banger('vm', 'delete', `b${String(i).padStart(2, '0')}`);
  const r0 = await render(0);

  console.log('ui bench (headless chromium, 1280x800, isolated install)');
  console.log(`  page weight, first page (gzip, ${first.length} files: page, script, chunk, css): ${(firstGz / 1024).toFixed(1)} KB`);
  console.log(`  terminal chunk (xterm.js, loaded when the terminal opens, gzip):             ${(termGz / 1024).toFixed(1)} KB`);
  console.log(`  VM change → list row updated, median of ${lat.length}:                           ${median(lat).toFixed(0)} ms (max ${Math.max(...lat).toFixed(0)} ms)`);
  console.log(`  baseline: one \`banger vm list --json\` (a polling UI's cost per poll), median:    ${median(polls).toFixed(0)} ms  ratio ${(median(lat) / median(polls)).toFixed(2)}`);
  console.log(`  first render of the list, 20 VMs (stored, not running), median of 5:           ${r20.toFixed(0)} ms`);
  console.log(`  baseline: the same page with no VM:                                             ${r0.toFixed(0)} ms  ratio ${(r20 / r0).toFixed(2)}`);
} finally {
  await browser.close();
  await inst.destroy();
}
