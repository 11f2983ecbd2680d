/** file_sync's host side: what is collected, and that the stream extracts as root:root with the right modes (real GNU tar). */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../host/exec.js';
import { planFileSync } from '../config/filesync.js';
import { GUEST_EXTRACT, collectFileSync, packItems } from './filesync.js';

const tmp = mkdtempSync(join(tmpdir(), 'banger-filesync-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('file_sync host side', () => {
  it('collects files (entry mode), directories (their own modes, recursively), symlinks; warns about missing paths; extracts as root:root', async () => {
    const home = join(tmp, 'home');
    mkdirSync(join(home, '.config', 'tool', 'sub'), { recursive: true });
    writeFileSync(join(home, '.gitconfig'), '[user]\n\tname = u\n', { mode: 0o664 });
    writeFileSync(join(home, '.config', 'tool', 'a.conf'), 'a', { mode: 0o640 });
    writeFileSync(join(home, '.config', 'tool', 'sub', 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    chmodSync(join(home, '.config', 'tool', 'sub'), 0o711);
    symlinkSync('a.conf', join(home, '.config', 'tool', 'link'));
    const entries = planFileSync(
      [
        { host: '~/.gitconfig', guest: '~/.gitconfig' },
        { host: '~/missing', guest: '~/missing' },
        { host: '~/.config/tool', guest: '/root/.config/tool' },
        { host: '~/.gitconfig', guest: '~/copies/g', mode: '0640' },
      ],
      home,
    );
    const { items, warnings } = await collectFileSync(entries);
    expect(warnings).toEqual([`file_sync[1]: ${join(home, 'missing')} does not exist on the host; skipped`]);
    expect(items.map((i) => `${i.kind} ${i.guest}`)).toEqual([
      'file /root/.gitconfig',
      'dir /root/.config/tool',
      'file /root/.config/tool/a.conf',
      'symlink /root/.config/tool/link',
      'dir /root/.config/tool/sub',
      'file /root/.config/tool/sub/run.sh',
      'file /root/copies/g',
    ]);

    // Extract the stream the way the guest does, into a scratch root.
    const root = join(tmp, 'guest');
    mkdirSync(root);
    const argv = [...GUEST_EXTRACT];
    argv[argv.indexOf('/')] = root;
    await run(argv, { input: await packItems(items) });
    const st = (p: string) => statSync(join(root, p));
    expect(st('root/.gitconfig').mode & 0o7777).toBe(0o600); // the default mode, not the host's 0664
    expect(st('root/copies/g').mode & 0o7777).toBe(0o640);
    expect(st('root/.config/tool/a.conf').mode & 0o7777).toBe(0o640);
    expect(st('root/.config/tool/sub').mode & 0o7777).toBe(0o711);
    expect(st('root/.config/tool/sub/run.sh').mode & 0o7777).toBe(0o755);
    expect(readlinkSync(join(root, 'root/.config/tool/link'))).toBe('a.conf');
    expect(readFileSync(join(root, 'root/.gitconfig'), 'utf8')).toContain('name = u');
    for (const p of ['root/.gitconfig', 'root/.config/tool', 'root/.config/tool/sub/run.sh']) expect([st(p).uid, st(p).gid]).toEqual([0, 0]);
    // the listing says root:root too, whoever runs the test
    const list = await run(['tar', '-t', '-v', '--numeric-owner', '-f', '-'], { input: await packItems(items) });
    for (const line of list.stdout.trim().split('\n')) expect(line).toMatch(/^\S+ 0\/0 /);
  });

  it('skips what is neither a file nor a directory, with a warning', async () => {
    const fifo = join(tmp, 'fifo');
    await run(['mkfifo', fifo]);
    const { items, warnings } = await collectFileSync(planFileSync([{ host: fifo, guest: '~/fifo' }], tmp));
    expect(items).toEqual([]);
    expect(warnings).toEqual([`file_sync[0]: ${fifo} is neither a file nor a directory; skipped`]);
  });
});
