import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../host/exec.js';
import { END_MARKER } from './scripts.js';
import { endMarkerTar, tarInvocations } from './stream.js';

describe('tarInvocations', () => {
  it('shares one process for plain parts and isolates excludes and transforms', () => {
    const argv = tarInvocations([
      { kind: 'tree', cwd: '/t/skel', names: ['.git'] },
      { kind: 'list', cwd: '/repo', listFile: '/t/files.list' },
      { kind: 'tree', cwd: '/repo/.git', names: ['modules/lib'], exclude: ['*.lock'], transform: 's,^modules/,.git/modules/,rSH' },
      { kind: 'tree', cwd: '/repo', names: ['sub/.git'], exclude: ['*.lock'] },
    ]);
    expect(argv).toEqual([
      ['tar', '-c', '-f', '-', '--format=gnu', '-C', '/t/skel', '--recursion', '--add-file', '.git', '-C', '/repo', '--no-recursion', '--null', '--verbatim-files-from', '--no-unquote', '-T', '/t/files.list'],
      ['tar', '-c', '-f', '-', '--format=gnu', '--transform=s,^modules/,.git/modules/,rSH', '-C', '/repo/.git', '--exclude=*.lock', '--recursion', '--add-file', 'modules/lib'],
      ['tar', '-c', '-f', '-', '--format=gnu', '-C', '/repo', '--exclude=*.lock', '--recursion', '--add-file', 'sub/.git'],
    ]);
  });
});

describe('endMarkerTar', () => {
  it('is one 10240-byte record that GNU tar extracts as the empty marker file', async () => {
    const buf = endMarkerTar(1_700_000_000);
    expect(buf.length).toBe(10240);
    const dir = await mkdtemp(join(tmpdir(), 'banger-marker-'));
    try {
      await writeFile(join(dir, 'm.tar'), buf);
      const list = await run(['tar', '-tvf', join(dir, 'm.tar')]);
      expect(list.stdout).toMatch(new RegExp(`^-rw-r--r-- .* 0 2023-11-1\\d \\d\\d:\\d\\d ${END_MARKER.replace('.', '\\.')}\\n$`));
      await run(['tar', '-x', '-f', join(dir, 'm.tar'), '-C', dir]);
      expect((await readdir(dir)).sort()).toEqual([END_MARKER, 'm.tar']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
