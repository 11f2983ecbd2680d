/**
 * config.toml's file_sync and auto_stop_stale_after on one real guest, through the real CLI and
 * daemon: files land root:root with their modes at a warm-restore create and again at a cold
 * restart; a missing host file is a warning; an unused VM is stopped (not deleted) once the
 * setting passes, never under a running exec or with a terminal open in the guest; `vm show` says when.
 */
import { mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshInstall, type Install } from '../../test/install.fixture.js';

let inst: Install;
let home: string;
beforeAll(async () => {
  inst = await freshInstall();
  home = join(inst.root, 'home');
  mkdirSync(join(home, 'tool', 'sub'), { recursive: true });
  writeFileSync(join(home, '.gitconfig'), '[user]\n\tname = first\n', { mode: 0o664 });
  writeFileSync(join(home, 'tool', 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o750 });
  writeFileSync(join(home, 'tool', 'sub', 'data'), 'x', { mode: 0o604 });
  chmodSync(join(home, 'tool', 'sub'), 0o700);
  mkdirSync(join(inst.root, 'config', 'banger'), { recursive: true });
  writeFileSync(
    join(inst.root, 'config', 'banger', 'config.toml'),
    `auto_stop_stale_after = "20s"
stats_poll_interval = "1s"

[[file_sync]]
host = "~/.gitconfig"
guest = "~/.gitconfig"

[[file_sync]]
host = "~/tool"
guest = "/root/.config/tool"

[[file_sync]]
host = "~/nope"
guest = "~/nope"

[[file_sync]]
host = "~/.gitconfig"
guest = "~/copies/gitconfig"
mode = "0644"
`,
  );
  // The daemon reads the config (and $HOME for ~) when it starts: restart it with both.
  inst.env.HOME = home;
  await inst.cli(['daemon', 'stop']);
}, 1_800_000);
afterAll(async () => {
  await inst?.destroy();
});

const json = <T>(s: string): T => JSON.parse(s) as T;
type Shown = { state: string; lastActiveAt: string | null; autoStopAt: string | null };
const show = async (name: string) => json<Shown>((await inst.cli(['vm', 'show', name])).stdout);
const statOf = async (name: string, paths: string[]) =>
  (await inst.cli(['vm', 'exec', name, '--', 'stat', '-c', '%a %u:%g %n', ...paths])).stdout.trim().split('\n');

describe('config.toml on a real guest', () => {
  it('file_sync at every start; auto-stop of an unused VM, never under a running exec or an open terminal', async () => {
    const create = await inst.cli(['vm', 'create', '--name', 'cfg']);
    expect(create.code, create.stderr).toBe(0);
    expect(create.stderr).toContain(`file_sync[2]: ${join(home, 'nope')} does not exist on the host; skipped`);
    expect(await statOf('cfg', ['/root/.gitconfig', '/root/copies/gitconfig', '/root/.config/tool', '/root/.config/tool/run.sh', '/root/.config/tool/sub', '/root/.config/tool/sub/data'])).toEqual([
      '600 0:0 /root/.gitconfig',
      '644 0:0 /root/copies/gitconfig',
      `${(0o755).toString(8)} 0:0 /root/.config/tool`,
      '750 0:0 /root/.config/tool/run.sh',
      '700 0:0 /root/.config/tool/sub',
      '604 0:0 /root/.config/tool/sub/data',
    ]);
    expect((await inst.cli(['vm', 'exec', 'cfg', '--', 'cat', '/root/.gitconfig'])).stdout).toContain('name = first');
    expect((await inst.cli(['vm', 'exec', 'cfg', '--', 'test', '-e', '/root/nope'])).code).toBe(1);

    // vm show says when it will stop: 20 s after the last use
    const s1 = await show('cfg');
    expect(s1.state).toBe('running');
    expect(Date.parse(s1.autoStopAt!) - Date.parse(s1.lastActiveAt!)).toBe(20_000);

    // stats_poll_interval: the daemon's sampler has a figure for the running VM
    await new Promise((r) => setTimeout(r, 2500));
    const stats = json<Array<{ name: string; cpuPercent: number | null; rssBytes: number | null }>>((await inst.cli(['vm', 'stats', '--json'])).stdout);
    expect(stats.find((s) => s.name === 'cfg')).toMatchObject({ cpuPercent: expect.any(Number), rssBytes: expect.any(Number) });

    // a cold boot copies again: the host file changed
    writeFileSync(join(home, '.gitconfig'), '[user]\n\tname = second\n');
    expect((await inst.cli(['vm', 'restart', 'cfg'])).code).toBe(0);
    expect((await inst.cli(['vm', 'exec', 'cfg', '--', 'cat', '/root/.gitconfig', '/root/copies/gitconfig'])).stdout).toBe('[user]\n\tname = second\n'.repeat(2));

    // an exec running longer than the setting keeps the VM
    const long = await inst.cli(['vm', 'exec', 'cfg', '--', 'sleep', '28']);
    expect(long.code, long.stderr).toBe(0);
    const after = await show('cfg');
    expect(after.state).toBe('running');
    const due = Date.parse(after.autoStopAt!);
    expect(due - Date.now()).toBeGreaterThan(15_000); // counted from the end of the exec

    // an open terminal in the guest (someone in `vm ssh`) counts as use when the time comes
    const term = await inst.cli(['vm', 'exec', 'cfg', '--', 'sh', '-c', 'setsid script -q -c "sleep 30" /dev/null </dev/null >/dev/null 2>&1 &']);
    expect(term.code, term.stderr).toBe(0);
    const before = await show('cfg');
    await new Promise((r) => setTimeout(r, Date.parse(before.autoStopAt!) + 8000 - Date.now()));
    const held = await show('cfg');
    expect(held.state).toBe('running');
    expect(Date.parse(held.lastActiveAt!)).toBeGreaterThan(Date.parse(before.lastActiveAt!));

    // then, unused: stopped (gracefully, kept) shortly after autoStopAt
    let shown = held;
    const due2 = Date.parse(held.autoStopAt!);
    const deadline = due2 + 60_000;
    while (shown.state !== 'stopped' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      shown = await show('cfg');
    }
    expect(shown.state).toBe('stopped');
    expect(Date.now()).toBeGreaterThanOrEqual(due2);
    expect(shown.autoStopAt).toBeNull();
    const list = json<Array<{ name: string }>>((await inst.cli(['vm', 'list', '--json'])).stdout);
    expect(list.map((v) => v.name)).toContain('cfg');
  }, 1_200_000);
});
