/**
 * The VM lifecycle against a real booted guest, through the real CLI and daemon.
 * One install (own daemon, own XDG dirs) for the file; VMs are booted only where a test needs one.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../host/exec.js';
import { freshInstall, type Install } from '../../test/install.fixture.js';

let inst: Install;
beforeAll(async () => {
  inst = await freshInstall();
}, 1_800_000);
afterAll(async () => {
  await inst?.destroy();
});

const json = <T>(s: string): T => JSON.parse(s) as T;
const qemuFor = async (id: string) => (await run(['pgrep', '-f', `vms/${id}/`], { check: false })).stdout.trim();

describe('vm lifecycle on a real guest', () => {
  it('creates, execs, keeps data across stop/start, survives a killed daemon, and deletes without leftovers', async () => {
    const create = await inst.cli(['vm', 'create', '--name', 'life']);
    expect(create.stderr).toMatch(/ready in \d+\.\ds/);
    expect(create.code).toBe(0);
    const vm = json<{ id: string; state: string; ssh: { port: number } }>((await inst.cli(['vm', 'show', 'life'])).stdout);
    expect(vm.state).toBe('running');

    // the 8G default disk is larger than the 4G image: the guest file system was grown at boot
    const df = await inst.cli(['vm', 'exec', 'life', '--', 'df', '-B1', '--output=size', '/']);
    expect(Number(df.stdout.trim().split('\n').pop())).toBeGreaterThan(7 * 1024 ** 3);

    // exec: output, exit code verbatim, stdin passes through
    const uname = await inst.cli(['vm', 'exec', 'life', '--', 'uname', '-n']);
    expect(uname.stdout.trim()).toBe('life');
    expect((await inst.cli(['vm', 'exec', 'life', '--', 'sh', '-c', 'exit 42'])).code).toBe(42);
    const echo = await inst.cli(['vm', 'exec', 'life', '--', 'sha256sum'], { input: 'banger\n' });
    expect(echo.stdout).toContain((await run(['sha256sum'], { input: 'banger\n' })).stdout.split(' ')[0]);
    const odd = "it's a $(dangerous) `name`\nwith newline";
    expect((await inst.cli(['vm', 'exec', 'life', '--', 'printf', '%s', odd])).stdout).toBe(odd);

    // vm ssh: the system ssh client with banger's key and pinned host key; words form a shell line like ssh's
    const viaSsh = await inst.cli(['vm', 'ssh', 'life', '--', 'echo $(hostname) | tr a-z A-Z']);
    expect(viaSsh.stdout.trim()).toBe('LIFE');
    expect((await inst.cli(['vm', 'ssh', 'life', '--', 'exit 9'])).code).toBe(9);

    // a file written just before stop is there after start
    await inst.cli(['vm', 'exec', 'life', '--', 'sh', '-c', 'echo persisted > /root/marker']);
    const stop = await inst.cli(['vm', 'stop', 'life']);
    expect(stop.code).toBe(0);
    expect(await qemuFor(vm.id)).toBe('');
    const stopped = json<{ state: string; pid: number | null }>((await inst.cli(['vm', 'show', 'life'])).stdout);
    expect(stopped).toMatchObject({ state: 'stopped', pid: null });

    const execStopped = await inst.cli(['vm', 'exec', 'life', '--', 'true']);
    expect(execStopped.code).toBe(5); // conflict
    expect(execStopped.stderr).toMatch(/is stopped; run `banger vm start life`/);

    expect((await inst.cli(['vm', 'start', 'life'])).code).toBe(0);
    expect((await inst.cli(['vm', 'exec', 'life', '--', 'cat', '/root/marker'])).stdout.trim()).toBe('persisted');

    // kill -9 the daemon: the VM keeps running and is adopted by the next daemon
    const pid = Number((await run(['cat', join(inst.runtimeDir, 'bangerd.pid')])).stdout);
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    const after = await inst.cli(['vm', 'exec', 'life', '--', 'cat', '/root/marker']);
    expect(after.stdout.trim()).toBe('persisted');
    const status = await inst.cli(['daemon', 'status', '--json']);
    expect(json<{ pid: number; vmsRunning: number }>(status.stdout)).toMatchObject({ vmsRunning: 1 });
    expect(json<{ pid: number }>(status.stdout).pid).not.toBe(pid);

    // delete leaves nothing: process, runtime socket dir, overlay, known_hosts entry
    expect((await inst.cli(['vm', 'delete', 'life'])).code).toBe(0);
    expect(await qemuFor(vm.id)).toBe('');
    expect(existsSync(join(inst.stateDir, 'vms', vm.id))).toBe(false);
    expect(existsSync(join(inst.runtimeDir, 'vms', vm.id))).toBe(false);
    const kh = join(inst.stateDir, 'ssh', 'known_hosts');
    expect(existsSync(kh) ? (await run(['cat', kh])).stdout : '').not.toContain('life.vm');
    expect(json<unknown[]>((await inst.cli(['vm', 'list', '--json'])).stdout)).toEqual([]);
  }, 600_000); // two boots and a daemon restart under TCG: minutes on a loaded 2-core host

  it('gives one VM and one already_exists for two concurrent creates with one name', async () => {
    const [a, b] = await Promise.all([
      inst.cli(['vm', 'create', '--name', 'twin', '--no-start']),
      inst.cli(['vm', 'create', '--name', 'twin', '--no-start']),
    ]);
    expect([a.code, b.code].sort()).toEqual([0, 4]);
    expect([a.stderr, b.stderr].join('')).toMatch(/a VM named "twin" already exists/);
    const list = json<Array<{ name: string }>>((await inst.cli(['vm', 'list', '--json'])).stdout);
    expect(list.filter((v) => v.name === 'twin')).toHaveLength(1);
    expect((await inst.cli(['vm', 'delete', 'twin'])).code).toBe(0);
    expect(readdirSync(join(inst.stateDir, 'vms'))).toEqual([]);
  });

  it('refuses bad names and unknown VMs with clear errors and exit codes', async () => {
    const bad = await inst.cli(['vm', 'create', '--name', 'Bad_Name', '--no-start']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/names are 1-63 characters/);
    const missing = await inst.cli(['vm', 'exec', 'ghost', '--', 'true']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/VM "ghost" not found; run `banger vm list`/);
    const several = await inst.cli(['vm', 'stop', 'ghost', 'phantom']);
    expect(several.code).toBe(3);
    expect(several.stderr).toContain('ghost');
    expect(several.stderr).toContain('phantom');
  });
});
