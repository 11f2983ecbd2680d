import { describe, expect, it } from 'vitest';
import { joinNul, parseConfigList, parseIndexEntries, parsePathList, parseTreeEntries, repoPathOf, splitNul, uniqueByPath, unsafePathReason } from './gitlist.js';

const b = (s: string) => Buffer.from(s, 'utf8');

describe('splitNul / parsePathList', () => {
  it.each([
    ['', []],
    ['a\x00', ['a']],
    ['a\x00b', ['a', 'b']],
    ['a\x00\x00b\x00', ['a', 'b']],
    ['sp ace\x00new\nline\x00$(x)\x00quo\'te"\x00', ['sp ace', 'new\nline', '$(x)', 'quo\'te"']],
  ])('%j', (input, want) => {
    expect(splitNul(b(input)).map((x) => x.toString())).toEqual(want);
    expect(parsePathList(b(input)).map((p) => p.path)).toEqual(want);
  });

  it('keeps non-UTF-8 bytes in raw and round-trips through joinNul', () => {
    const raw = Buffer.from([0x66, 0xff, 0x6f]);
    const list = parsePathList(Buffer.concat([raw, Buffer.from([0]), b('x\x00')]));
    expect(list[0].raw.equals(raw)).toBe(true);
    expect(joinNul(list).equals(Buffer.concat([raw, Buffer.from([0]), b('x\x00')]))).toBe(true);
  });
});

describe('parseIndexEntries', () => {
  it('reads mode, object, stage and odd paths', () => {
    const sha = 'a'.repeat(40);
    const input = `100644 ${sha} 0\tsp ace\x00100755 ${sha} 0\trun.sh\x00120000 ${sha} 0\tlink\x00160000 ${sha} 0\tsub\x00100644 ${sha} 1\tnew\nline\x00`;
    expect(parseIndexEntries(b(input)).map(({ mode, stage, path }) => [mode, stage, path])).toEqual([
      ['100644', 0, 'sp ace'],
      ['100755', 0, 'run.sh'],
      ['120000', 0, 'link'],
      ['160000', 0, 'sub'],
      ['100644', 1, 'new\nline'],
    ]);
  });
  it('refuses a malformed record', () => {
    expect(() => parseIndexEntries(b('garbage\x00'))).toThrow(/unexpected git ls-files/);
  });
  it('uniqueByPath keeps one entry per unmerged path', () => {
    const sha = 'b'.repeat(40);
    const e = parseIndexEntries(b(`100644 ${sha} 1\tc\x00100644 ${sha} 2\tc\x00100644 ${sha} 3\tc\x00100644 ${sha} 0\td\x00`));
    expect(uniqueByPath(e).map((x) => [x.path, x.stage])).toEqual([
      ['c', 1],
      ['d', 0],
    ]);
  });
});

describe('parseTreeEntries', () => {
  it('reads sizes, gitlinks and paths with tabs', () => {
    const sha = 'c'.repeat(40);
    const input = `100644 blob ${sha}      12\ta\tb\x00160000 commit ${sha}       -\tsub\x00`;
    expect(parseTreeEntries(b(input)).map(({ type, size, path }) => [type, size, path])).toEqual([
      ['blob', 12, 'a\tb'],
      ['commit', 0, 'sub'],
    ]);
  });
});

describe('parseConfigList', () => {
  it('splits key and value at the first newline', () => {
    expect(parseConfigList(b('submodule.lib.url\n../lib.git\x00submodule.lib.active\ntrue\x00x.y\x00'))).toEqual([
      { key: 'submodule.lib.url', value: '../lib.git' },
      { key: 'submodule.lib.active', value: 'true' },
      { key: 'x.y', value: 'true' },
    ]);
  });
});

describe('unsafePathReason', () => {
  it.each(['a', 'dir/file.txt', 'sp ace', 'new\nline', '$(touch x)', '.gitignore', 'a/.github/x', '...', '.hidden/..x'])('accepts %j', (p) => {
    expect(unsafePathReason(p)).toBeNull();
  });
  it.each([
    ['', /empty/],
    ['/etc/passwd', /absolute/],
    ['../x', /\.\./],
    ['a/../../x', /\.\./],
    ['a/./b', /\./],
    ['.git/config', /\.git/],
    ['sub/.GIT/hooks/post-checkout', /\.git/],
    ['a//b', /empty path segment/],
    ['a\\b', /backslash/],
    ['a\x00b', /NUL/],
  ])('refuses %j', (p, why) => {
    expect(unsafePathReason(p)).toMatch(why);
  });
  it('repoPathOf encodes UTF-8', () => {
    expect(repoPathOf('ünï').raw.equals(Buffer.from('ünï'))).toBe(true);
  });
});
