import { describe, expect, it } from 'vitest';
import { PatchLinkScanner, gitDiffPath, linkEscapeReason } from './patchlinks.js';

describe('linkEscapeReason', () => {
  it.each([
    ['a', 'b', null],
    ['d/e/l', '../../top', null],
    ['d/l', '../x/../y', null],
    ['l', '/etc', /absolute/],
    ['l', '../x', /outside the repo/],
    ['d/l', '../../x', /outside the repo/],
    ['d/l', 'a/../../../x', /outside the repo/],
    ['l', '..', /outside the repo/],
    ['l', '.git/hooks/pre-commit', /inside \.git/],
    ['d/l', '../.GIT', /inside \.git/],
    ['l', '', /empty/],
    [null, '../x', /outside the repo/],
  ])('%s -> %s', (path, target, want) => {
    const got = linkEscapeReason(path, target);
    if (want === null) expect(got).toBeNull();
    else expect(got).toMatch(want);
  });
});

describe('gitDiffPath', () => {
  it.each([
    ['diff --git a/x b/x', 'x'],
    ['diff --git a/sp ace b/sp ace', 'sp ace'],
    ['diff --git a/a b/c b/a b/c', 'a b/c'],
    ['diff --git "a/\\303\\274 \\"q\\"\\n" "b/\\303\\274 \\"q\\"\\n"', 'ü "q"\n'],
    ['diff --git a/x b/y', null],
    ['diff --git "a/x" b/x', null],
  ])('%j', (line, want) => expect(gitDiffPath(line)).toBe(want));
});

describe('PatchLinkScanner', () => {
  const link = (path: string, target: string) =>
    `diff --git a/${path} b/${path}\nnew file mode 120000\nindex 0000000..1111111\n--- /dev/null\n+++ b/${path}\n@@ -0,0 +1 @@\n+${target}\n\\ No newline at end of file\n`;
  const file = (path: string, line: string) => `diff --git a/${path} b/${path}\nnew file mode 100644\n--- /dev/null\n+++ b/${path}\n@@ -0,0 +1 @@\n+${line}\n`;

  it('finds the same problems however the patch is chunked', () => {
    const patch = Buffer.from(file('a', 'new mode 120000') + link('d/ok', '../a') + link('bad', '/etc') + file('b', '/etc'));
    for (const size of [1, 2, 7, 64, patch.length]) {
      const s = new PatchLinkScanner();
      for (let i = 0; i < patch.length; i += size) s.push(patch.subarray(i, i + size));
      expect(s.end()).toEqual([{ path: 'bad', why: expect.stringMatching(/absolute path "\/etc"/) }]);
      expect([...s.statedMode].sort()).toEqual(['a', 'b', 'bad', 'd/ok']);
    }
  });

  it('refuses a link whose target line is too long to keep, and a mode change with no content', () => {
    const s = new PatchLinkScanner();
    s.push(Buffer.from(link('long', 'x'.repeat(40_000))));
    s.push(Buffer.from('diff --git a/m b/m\nold mode 100644\nnew mode 120000\n'));
    expect(s.end().map((p) => p.path)).toEqual(['long', 'm']);
  });
});
