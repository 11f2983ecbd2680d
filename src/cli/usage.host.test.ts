/**
 * The built CLI against a real daemon, no VMs: usage errors exit 2 (bad_request) like every other
 * bad request, and one CLI process checks for (or starts) bangerd once however many calls it makes.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
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

describe('one daemon check per CLI process', () => {
  it('vm delete of three names: one daemon.status, then the three calls', async () => {
    expect((await inst.cli(['daemon', 'status'])).code).toBe(0); // the daemon runs from here on
    const before = requests().length;
    const r = await inst.cli(['vm', 'delete', 'nope-a', 'nope-b', 'nope-c']);
    expect(r.code).toBe(3); // not_found, each reported
    expect(r.stderr.match(/not found/g)).toHaveLength(3);
    expect(requests().slice(before).sort()).toEqual(['daemon.status', 'vm.delete', 'vm.delete', 'vm.delete']);
  });

  it('doctor: one check, then its own two calls', async () => {
    const before = requests().length;
    await inst.cli(['doctor', '--json']);
    expect(requests().slice(before)).toEqual(['daemon.status', 'daemon.status', 'daemon.doctor']);
  });
});
