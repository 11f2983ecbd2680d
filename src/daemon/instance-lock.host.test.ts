/**
 * One bangerd per install (issue 11, item 7), with real daemons and the real CLI on an isolated
 * install (no VM): two daemons started at once leave exactly one serving, the other exits cleanly
 * saying so; concurrent first-use CLIs all succeed and leave one daemon.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { call } from '../api/client.js';
import { run } from '../host/exec.js';
import { makeInstall, REPO, type Install } from '../../test/install.fixture.js';

const DAEMON = join(REPO, 'dist', 'daemon', 'main.js');

/** Live bangerd processes of this install (by their environment). */
function daemonsOf(inst: Install): number[] {
  const pids: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (!readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('daemon/main.js')) continue;
      if (readFileSync(`/proc/${p}/environ`, 'utf8').split('\0').includes(`XDG_STATE_HOME=${inst.env.XDG_STATE_HOME}`)) pids.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

let inst: Install | undefined;
afterEach(async () => {
  await inst?.destroy();
  inst = undefined;
});

describe('one bangerd per install', () => {
  it('two daemons started at once: one serves, the other exits cleanly saying another holds the install', async () => {
    inst = makeInstall(mkdtempSync(join(tmpdir(), 'banger-lock-')));
    const i = inst;
    const start = () => run([process.execPath, DAEMON], { env: i.env, check: false, timeoutMs: 20_000 }).catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }));
    // The winner runs until the test stops it, so its run() only ends at the timeout: race on the first to finish.
    const a = start();
    const b = start();
    const loser = await Promise.race([a, b]);
    expect(loser.code).toBe(0);
    expect(loser.stderr).toMatch(/bangerd is already running for this install.*bangerd\.lock; not starting a second one/);
    let status;
    for (let n = 0; n < 100 && !status; n++) {
      status = await call(join(i.runtimeDir, 'bangerd.sock'), 'daemon.status', {}).catch(() => undefined);
      if (!status) await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBeDefined();
    expect(daemonsOf(i)).toEqual([status!.pid]);
  }, 60_000);

  it('concurrent first-use CLIs all succeed and leave one daemon', async () => {
    inst = makeInstall(mkdtempSync(join(tmpdir(), 'banger-lock-')));
    const i = inst;
    const results = await Promise.all([1, 2, 3, 4].map(() => i.cli(['daemon', 'status', '--json'], { timeoutMs: 60_000 })));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const pids = new Set(results.map((r) => JSON.parse(r.stdout).pid));
    expect(pids.size).toBe(1);
    // the losers give up after their second of retries (instance-lock.ts RETRY_FOR_MS)
    for (const until = Date.now() + 5000; daemonsOf(i).length > 1 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 100));
    expect(daemonsOf(i)).toEqual([...pids]);
  }, 90_000);

  it('a daemon killed with SIGKILL leaves no stale lock: the next first use starts a new one', async () => {
    inst = makeInstall(mkdtempSync(join(tmpdir(), 'banger-lock-')));
    const first = JSON.parse((await inst.cli(['daemon', 'status', '--json'])).stdout).pid as number;
    process.kill(first, 'SIGKILL');
    while (daemonsOf(inst).length) await new Promise((r) => setTimeout(r, 50));
    const r = await inst.cli(['daemon', 'status', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const second = JSON.parse(r.stdout).pid as number;
    expect(second).not.toBe(first);
    expect(daemonsOf(inst)).toEqual([second]);
  }, 60_000);
});
