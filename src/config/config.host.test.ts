/**
 * config.toml through the real CLI and daemon (no VMs): a bad value stops the daemon and the CLI
 * says why at once; unknown keys are warnings a person sees (daemon status, doctor, the log);
 * log_level sets the daemon's level unless BANGER_LOG_LEVEL is set.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeInstall, type Install } from '../../test/install.fixture.js';

let inst: Install | null = null;
afterEach(async () => {
  await inst?.destroy();
  inst = null;
});

function installWith(config: string, env: Record<string, string | undefined> = {}): Install {
  const i = makeInstall(mkdtempSync('/tmp/bc-'));
  Object.assign(i.env, env);
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete i.env[k];
  mkdirSync(join(i.root, 'config', 'banger'), { recursive: true });
  writeFileSync(join(i.root, 'config', 'banger', 'config.toml'), config);
  return i;
}

describe('config.toml through the CLI', () => {
  it.each([
    ['[vm_defaults]\ndisk_size = "99999999999T"\n', /config\.toml: key vm_defaults\.disk_size: sizes look like/],
    ['auto_stop_stale_after = "soon"\n', /config\.toml: key auto_stop_stale_after: durations look like/],
    ['[[file_sync]]\nhost = "~other/x"\nguest = "~/x"\n', /config\.toml: file_sync\[0\]: .*~user/],
    ['bridge_name = "br0"\n[network]\nbridge = "br1"\n', /bridge_name = "br0" and network\.bridge = "br1" disagree/],
    ['[vm_defaults]\ndisk_size = "17T"\n', /key vm_defaults\.disk_size: sizes look like .* from 1M to 16T/],
  ])('a bad value: the CLI shows the daemon’s own message at once (%j)', async (config, message) => {
    inst = installWith(config);
    const t0 = Date.now();
    const r = await inst.cli(['vm', 'list']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/bangerd could not start \(exit 1\)/);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/did not start within/);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('unknown and not-yet-supported keys are warnings in daemon status, doctor and the log; the daemon runs', async () => {
    inst = installWith('colour = "red"\ntap_pool_size = 2\nlog_level = "warn"\n[vm_defaults]\nvcpu = 1\nshiny = true\n', { BANGER_LOG_LEVEL: undefined });
    const st = await inst.cli(['daemon', 'status', '--json']);
    expect(st.code).toBe(0);
    const warnings = (JSON.parse(st.stdout) as { configWarnings: string[] }).configWarnings;
    expect(warnings).toHaveLength(3);
    expect(warnings.join('\n')).toMatch(/unknown key colour is ignored/);
    expect(warnings.join('\n')).toMatch(/unknown key vm_defaults\.shiny is ignored/);
    expect(warnings.join('\n')).toMatch(/tap_pool_size is not supported yet/);
    expect((await inst.cli(['daemon', 'status'])).stdout).toMatch(/^warning: .*unknown key colour/m);

    const doc = await inst.cli(['doctor', '--json']);
    const rows = (JSON.parse(doc.stdout) as Array<{ name: string; verdict: string; detail: string }>).filter((c) => c.name === 'config');
    expect(rows.map((c) => c.verdict)).toEqual(['warn', 'warn', 'warn']);
    expect(rows[0].detail).toMatch(/colour/);

    // log_level = "warn": the warnings are logged, info lines ("listening") are not
    await inst.cli(['daemon', 'stop']);
    const log = readFileSync(join(inst.stateDir, 'bangerd.log'), 'utf8');
    expect(log).toMatch(/unknown key colour is ignored/);
    expect(log).not.toMatch(/"msg":"listening"/);
  });

  it('BANGER_LOG_LEVEL wins over log_level', async () => {
    inst = installWith('log_level = "error"\n', { BANGER_LOG_LEVEL: 'debug' });
    expect((await inst.cli(['daemon', 'status'])).code).toBe(0);
    await inst.cli(['daemon', 'stop']);
    expect(readFileSync(join(inst.stateDir, 'bangerd.log'), 'utf8')).toMatch(/"msg":"listening"/);
  });
});

describe('sizes through the CLI and the daemon', () => {
  it('vm create/set with sizes out of range are bad_request naming the range; nothing is stored; the daemon answers', async () => {
    inst = installWith('');
    for (const args of [
      ['vm', 'create', '--name', 'big', '--no-start', '--disk-size', `1${'0'.repeat(400)}`],
      ['vm', 'create', '--name', 'big', '--no-start', '--disk-size', '99999999999T'],
      ['vm', 'create', '--name', 'big', '--no-start', '--disk-size', '17T'],
    ]) {
      const r = await inst.cli(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--disk-size sizes look like 512M, 4G or 8GiB, from 1M to 16T/);
    }
    for (const args of [
      ['vm', 'create', '--name', 'big', '--no-start', '--memory', '4000000'],
      ['vm', 'set', 'big', '--memory', '4000000'],
    ]) {
      const r = await inst.cli(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/memoryMib: memory is 128 to 1048576 MiB/);
    }
    const list = await inst.cli(['vm', 'list', '--json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([]);
  });
});
