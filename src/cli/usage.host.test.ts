/**
 * The built CLI against a real daemon, no VMs: usage errors exit 2 (bad_request) like every other
 * bad request, and a CLI process sends bangerd only the calls its command makes: no `daemon.status`
 * probe before them while the daemon runs (it is started, once, when nothing listens).
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeInstall, type Install } from '../../test/install.fixture.js';

let inst: Install;
beforeAll(() => {
  inst = makeInstall(mkdtempSync('/tmp/bu-'));
  inst.env.HOME = inst.root; // nothing may touch the real ~/.ssh/config
  inst.env.BANGER_NO_SYSTEM = '1';
});
afterAll(async () => {
  await inst?.destroy();
});

/** Live (not zombie) bangerd processes whose environment names this install's runtime dir. */
function daemonsOfThisInstall(): number[] {
  const mark = `XDG_RUNTIME_DIR=${inst.env.XDG_RUNTIME_DIR}`;
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (!readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('daemon/main.js')) continue;
      if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${d}/stat`, 'utf8'))) continue;
      if (readFileSync(`/proc/${d}/environ`, 'utf8').split('\0').includes(mark)) pids.push(Number(d));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

/** The methods the daemon received, in order, from its debug log. */
function requests(): string[] {
  const log = readFileSync(join(inst.stateDir, 'bangerd.log'), 'utf8');
  return log
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { msg: string; method?: string })
    .filter((l) => l.msg === 'request')
    .map((l) => l.method!);
}

describe('usage errors exit 2', () => {
  it.each([
    [['ssh-config', '--install', '--uninstall'], /pass --install or --uninstall, not both/],
    [['vm', 'create', '--disk-size', 'lots'], /--disk-size sizes look like .*got "lots"/],
    [['vm', 'run', '--disk-size', 'lots', '--', 'true'], /--disk-size sizes look like .*got "lots"/],
    [['vm', 'set', 'web', '--disk-size', 'lots'], /--disk-size sizes look like .*got "lots"/],
    [['vm', 'forward', 'web', '--rm'], /--rm needs the guest port/],
    [['vm', 'forward', 'web', '8080:18080', '--rm'], /--rm takes only the guest port/],
    [['vm', 'exec', 'web'], /give the command after --/],
    [['vm', 'create', '--network', 'wifi'], /argument 'wifi' is invalid/],
    [['vm', 'start'], /missing required argument/],
    [['vm', 'create', '--frobnicate'], /unknown option '--frobnicate'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['completion', 'tcsh'], /no completion for shell "tcsh"/],
  ])('banger %j → 2', async (args, message) => {
    const r = await inst.cli(args);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
  });

  it('help and version still exit 0', async () => {
    expect((await inst.cli(['--help'])).code).toBe(0);
    expect((await inst.cli(['vm', 'create', '--help'])).code).toBe(0);
    const v = await inst.cli(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^banger /);
  });
});

describe('no probe before the calls', () => {
  it('with no daemon, the first call starts one: its status polls, then the call itself, once', async () => {
    const r = await inst.cli(['vm', 'list', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
    const seen = requests();
    expect(seen.at(-1)).toBe('vm.list');
    expect(seen.filter((m) => m === 'vm.list')).toHaveLength(1);
    expect(new Set(seen.slice(0, -1))).toEqual(new Set(['daemon.status'])); // the start's readiness polls
  });

  it('vm delete of three names (concurrent calls): the three calls, nothing else', async () => {
    const before = requests().length;
    const r = await inst.cli(['vm', 'delete', 'nope-a', 'nope-b', 'nope-c']);
    expect(r.code).toBe(3); // not_found, each reported
    expect(r.stderr.match(/not found/g)).toHaveLength(3);
    expect(requests().slice(before)).toEqual(['vm.delete', 'vm.delete', 'vm.delete']);
  });

  it('vm list and doctor: only their own calls', async () => {
    const before = requests().length;
    expect((await inst.cli(['vm', 'list'])).code).toBe(0);
    await inst.cli(['doctor', '--json']);
    expect(requests().slice(before)).toEqual(['vm.list', 'daemon.status', 'daemon.doctor']);
  });

  it('three CLIs against a stopped daemon at once: each call answered, one daemon left', async () => {
    expect((await inst.cli(['daemon', 'stop'])).code).toBe(0);
    const rs = await Promise.all([0, 1, 2].map(() => inst.cli(['vm', 'list', '--json'])));
    for (const r of rs) expect(r.code, r.stderr).toBe(0);
    // The losers were ended by the CLIs that started them, not left retrying for the lock (they would
    // take over after the next `daemon stop`): right away, one bangerd of this install runs.
    expect(daemonsOfThisInstall()).toHaveLength(1);
    const pid = JSON.parse((await inst.cli(['daemon', 'status', '--json'])).stdout).pid as number;
    expect(daemonsOfThisInstall()).toEqual([pid]);
    expect(readFileSync(join(inst.runtimeDir, 'bangerd.pid'), 'utf8').trim()).toBe(String(pid));
  });
});
