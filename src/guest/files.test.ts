/** guest/fileinfo.ts and guest/watch.ts's pure halves: find output, permission strings, snapshot streams and their diffs. */
import { describe, expect, it } from 'vitest';
import { parseFindOutput, permissionString } from './fileinfo.js';
import { diffSnapshots, parseSnapshots, pollScript } from './watch.js';

describe('parseFindOutput', () => {
  it('reads NUL-separated records, names from paths, types and modes', () => {
    const out = ['f', '12', '644', 'root', 'root', '1700000000.5000000000', '', '/root/a b.txt', 'd', '4096', '755', 'user', 'user', '1700000001.0', '', '/root/dir', 'l', '4', '777', 'root', 'root', '1.0', '/etc', '/root/ln', ''].join('\0');
    expect(parseFindOutput(out)).toEqual([
      { name: 'a b.txt', path: '/root/a b.txt', type: 'file', size: 12, mode: 0o100644, permissions: '-rw-r--r--', owner: 'root', group: 'root', mtimeMs: 1_700_000_000_500 },
      { name: 'dir', path: '/root/dir', type: 'dir', size: 4096, mode: 0o040755, permissions: 'drwxr-xr-x', owner: 'user', group: 'user', mtimeMs: 1_700_000_001_000 },
      { name: 'ln', path: '/root/ln', type: 'symlink', size: 4, mode: 0o120777, permissions: 'lrwxrwxrwx', owner: 'root', group: 'root', mtimeMs: 1000, symlinkTarget: '/etc' },
    ]);
  });
  it('drops a truncated trailing record and reads empty output as nothing', () => {
    expect(parseFindOutput('f\x0012\x00644\x00root')).toEqual([]);
    expect(parseFindOutput('')).toEqual([]);
    expect(parseFindOutput(['d', '1', '755', 'r', 'r', '0', '', '/', ''].join('\0'))[0]!.name).toBe('/');
  });
  it.each([
    ['f', 0o4755, '-rwsr-xr-x'],
    ['d', 0o1777, 'drwxrwxrwt'],
    ['f', 0o2640, '-rw-r-S---'],
    ['f', 0, '----------'],
  ])('permissionString(%s, %o) = %s', (k, m, want) => {
    expect(permissionString(k, m)).toBe(want);
  });
});

describe('directory watch snapshots', () => {
  const snap = (o: Record<string, string>) => new Map(Object.entries(o));
  it('splits a stream into complete snapshots and keeps the unfinished rest', () => {
    const s1 = 'f\t3\t1.0\ta.txt\0d\t4096\t1.0\tsub\0\0';
    const partial = 'f\t0\t2.0\tb';
    const r = parseSnapshots(s1 + '\0' + partial);
    expect(r.snapshots).toEqual([snap({ 'a.txt': 'f 3 1.0', sub: 'd 4096 1.0' }), snap({})]);
    expect(r.rest).toBe(partial);
    expect(parseSnapshots(partial)).toEqual({ snapshots: [], rest: partial });
  });
  it.each([
    [{}, { a: 'f 0 1' }, [{ name: 'a', type: 'create' }]],
    [{}, { a: 'f 5 1' }, [{ name: 'a', type: 'create' }, { name: 'a', type: 'write' }]],
    [{}, { d: 'd 4096 1' }, [{ name: 'd', type: 'create' }]],
    [{ a: 'f 5 1' }, { a: 'f 6 2' }, [{ name: 'a', type: 'write' }]],
    [{ a: 'f 5 1' }, { a: 'f 5 1' }, []],
    [{ a: 'f 5 1' }, {}, [{ name: 'a', type: 'remove' }]],
    [{ a: 'f 5 1' }, { b: 'f 0 1' }, [{ name: 'b', type: 'create' }, { name: 'a', type: 'remove' }]],
  ])('%j → %j', (prev, next, want) => {
    expect(diffSnapshots(snap(prev), snap(next))).toEqual(want);
  });
  it('polls one level unless recursive', () => {
    expect(pollScript(false, 250)).toContain('-maxdepth 1');
    expect(pollScript(true, 250)).not.toContain('-maxdepth');
    expect(pollScript(true, 10)).toContain('sleep 0.05');
  });
});
