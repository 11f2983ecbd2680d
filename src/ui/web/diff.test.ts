import { describe, expect, it } from 'vitest';
import { parseDiff, sideBySide } from './diff.js';

const MODIFIED = `diff --git a/README.md b/README.md
index 1111111..2222222 100644
--- a/README.md
+++ b/README.md
@@ -1,3 +1,3 @@
 title
-old line
+new line
 end
`;
const ADDED = `diff --git a/new.txt b/new.txt
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/new.txt
@@ -0,0 +1,2 @@
+one
+two
`;
const DELETED = `diff --git a/gone.txt b/gone.txt
deleted file mode 100644
index 4444444..0000000
--- a/gone.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
\\ No newline at end of file
`;
const BINARY = `diff --git a/logo.png b/logo.png
new file mode 100644
index 0000000..5555555
Binary files /dev/null and b/logo.png differ
`;
const GIT_BINARY = `diff --git a/blob.bin b/blob.bin
index 6666666..7777777 100644
GIT binary patch
literal 3
KcmZ?wU;qFB01yBG

literal 0
HcmV?d00001

`;
const RENAMED = `diff --git a/old name.txt b/new name.txt
similarity index 90%
rename from old name.txt
rename to new name.txt
index 8888888..9999999 100644
--- a/old name.txt
+++ b/new name.txt
@@ -2,2 +2,2 @@ ctx
 keep
-was
+is
`;
const QUOTED = `diff --git "a/caf\\303\\251.txt" "b/caf\\303\\251.txt"
index 1..2 100644
--- "a/caf\\303\\251.txt"
+++ "b/caf\\303\\251.txt"
@@ -1 +1 @@
-a
+b
`;

describe('parseDiff', () => {
  it.each([
    ['modified', MODIFIED, { path: 'README.md', oldPath: 'README.md', status: 'modified', binary: false, added: 1, removed: 1 }],
    ['added', ADDED, { path: 'new.txt', status: 'added', binary: false, added: 2, removed: 0 }],
    ['deleted', DELETED, { path: 'gone.txt', status: 'deleted', binary: false, added: 0, removed: 1 }],
    ['binary (no patch)', BINARY, { path: 'logo.png', status: 'added', binary: true, added: 0, removed: 0 }],
    ['binary (git binary patch)', GIT_BINARY, { path: 'blob.bin', status: 'modified', binary: true, added: 0, removed: 0 }],
    ['renamed with spaces', RENAMED, { path: 'new name.txt', oldPath: 'old name.txt', status: 'renamed', added: 1, removed: 1 }],
  ])('%s', (_n, patch, want) => {
    const [f, ...rest] = parseDiff(patch);
    expect(rest).toEqual([]);
    expect(f).toMatchObject(want);
  });

  it('reads several files in order, with line numbers on each side', () => {
    const files = parseDiff(MODIFIED + ADDED + BINARY + DELETED);
    expect(files.map((f) => f.path)).toEqual(['README.md', 'new.txt', 'logo.png', 'gone.txt']);
    expect(files[0]!.hunks[0]!.lines).toEqual([
      { kind: 'ctx', text: 'title', old: 1, new: 1 },
      { kind: 'del', text: 'old line', old: 2, new: null },
      { kind: 'add', text: 'new line', old: null, new: 2 },
      { kind: 'ctx', text: 'end', old: 3, new: 3 },
    ]);
    expect(files[2]!.hunks).toEqual([]);
    // "\ No newline" is not a line of the file
    expect(files[3]!.hunks[0]!.lines).toHaveLength(1);
  });

  it('unquotes C-quoted names', () => {
    expect(parseDiff(QUOTED)[0]!.path).toBe('café.txt');
  });

  it('an empty patch has no files', () => {
    expect(parseDiff('')).toEqual([]);
  });
});

describe('sideBySide', () => {
  const line = (kind: 'ctx' | 'add' | 'del', text: string) => ({ kind, text, old: null, new: null });
  it.each([
    ['context on both sides', [line('ctx', 'a')], [['a', 'a']]],
    ['a change pairs removal with addition', [line('del', 'x'), line('add', 'y')], [['x', 'y']]],
    ['more removals than additions', [line('del', 'x1'), line('del', 'x2'), line('add', 'y')], [['x1', 'y'], ['x2', null]]],
    ['only additions', [line('ctx', 'c'), line('add', 'n1'), line('add', 'n2')], [['c', 'c'], [null, 'n1'], [null, 'n2']]],
  ])('%s', (_n, lines, want) => {
    expect(sideBySide({ header: '@@', lines }).map((r) => [r.left?.text ?? null, r.right?.text ?? null])).toEqual(want);
  });
});
