import { describe, expect, it } from 'vitest';
import { fileArgv, fileError, parseListing } from './fileops.js';

describe('fileArgv', () => {
  it('passes paths as their own argv words, never inside a script', () => {
    const odd = "/tmp/$(touch pwned) 'q\"\n.txt";
    for (const argv of [fileArgv.read(odd), fileArgv.write(odd), fileArgv.remove(odd), fileArgv.makeDir(odd), fileArgv.exists(odd), fileArgv.list(odd, 2), fileArgv.rename(odd, odd)]) {
      expect(argv).toContain(odd);
      expect(argv.filter((w) => w !== odd).join(' ')).not.toContain('pwned');
    }
    expect(fileArgv.write(odd)).toEqual(['sh', '-c', 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1"', 'banger-write', odd]);
  });

  it('a path starting with a dash is not an option', () => {
    expect(fileArgv.read('-rf')).toEqual(['cat', '--', '-rf']);
    expect(fileArgv.remove('-x')).toEqual(['rm', '-rf', '--', '-x']);
  });
});

describe('parseListing', () => {
  it('reads the shared find format (names with tabs and newlines included), sorted by path', () => {
    const rec = (y: string, size: number, mode: string, path: string) => [y, String(size), mode, 'root', 'root', '1700000000.5', '', path, ''].join('\0');
    const out = rec('d', 4096, '755', '/w/src') + rec('f', 12, '644', '/w/a\tb\nc.txt') + rec('p', 0, '644', '/w/fifo');
    const l = parseListing(out);
    expect(l.map((e) => [e.path, e.name, e.type, e.size, e.mode & 0o7777])).toEqual([
      ['/w/a\tb\nc.txt', 'a\tb\nc.txt', 'file', 12, 0o644],
      ['/w/fifo', 'fifo', 'other', 0, 0o644],
      ['/w/src', 'src', 'dir', 4096, 0o755],
    ]);
    expect(l[2]!.mtimeMs).toBe(1700000000500);
    expect(parseListing('')).toEqual([]);
  });
});

describe('fileError', () => {
  it('a missing path is not_found; anything else bad_request with the guest’s last line', () => {
    expect(fileError('read', '/x', 1, 'cat: /x: No such file or directory\n').code).toBe('not_found');
    const e = fileError('write', '/proc/x', 1, 'sh: 1: cannot create /proc/x: Permission denied\n');
    expect(e.code).toBe('bad_request');
    expect(e.message).toContain('Permission denied');
  });
});
