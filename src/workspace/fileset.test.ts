import { describe, expect, it } from 'vitest';
import { planFileSet, submoduleRefusal, type PathStat } from './fileset.js';
import { repoPathOf, type IndexEntry } from './gitlist.js';

const sha = '0'.repeat(40);
const entry = (path: string, mode = '100644'): IndexEntry => ({ ...repoPathOf(path), mode, object: sha, stage: 0 });
const file = (mode: number, size: number): PathStat => ({ kind: 'file', mode: 0o100000 | mode, size });

function plan(opts: { tracked: IndexEntry[]; untracked?: string[]; dirty?: string[]; stats: Record<string, PathStat> }) {
  return planFileSet({
    tracked: opts.tracked,
    untracked: (opts.untracked ?? []).map(repoPathOf),
    dirty: (opts.dirty ?? []).map(repoPathOf),
    stat: (p) => opts.stats[p.path] ?? { kind: 'missing' },
  });
}

describe('planFileSet', () => {
  it('copies tracked files with their kind, permission bits and size', () => {
    const s = plan({
      tracked: [entry('a.txt'), entry('run.sh', '100755'), entry('link', '120000'), entry('odd $(x) \'q\'\n')],
      stats: { 'a.txt': file(0o644, 3), 'run.sh': file(0o755, 10), link: { kind: 'symlink', mode: 0o120777, size: 5 }, 'odd $(x) \'q\'\n': file(0o600, 1) },
    });
    expect(s.files.map(({ path, kind, mode, size, tracked }) => ({ path, kind, mode, size, tracked }))).toEqual([
      { path: 'a.txt', kind: 'file', mode: 0o644, size: 3, tracked: true },
      { path: 'run.sh', kind: 'exec', mode: 0o755, size: 10, tracked: true },
      { path: 'link', kind: 'symlink', mode: 0o777, size: 5, tracked: true },
      { path: 'odd $(x) \'q\'\n', kind: 'file', mode: 0o600, size: 1, tracked: true },
    ]);
    expect([s.fileCount, s.bytes]).toEqual([4, 19]);
    expect(s.prepAdd).toEqual([]);
    expect(s.prepRemove).toEqual([]);
  });

  it('adds untracked files only when listed, and skips nested repositories', () => {
    const s = plan({
      tracked: [entry('a')],
      untracked: ['new.txt', 'nested/'],
      stats: { a: file(0o644, 1), 'new.txt': file(0o644, 2) },
    });
    expect(s.files.map((f) => [f.path, f.tracked])).toEqual([
      ['a', true],
      ['new.txt', false],
    ]);
    expect(s.skipped).toEqual([{ path: 'nested/', reason: 'a nested git repository (not a submodule)' }]);
    // the copied untracked file is part of the prepared tree
    expect(s.prepAdd.map((p) => p.path)).toEqual(['new.txt']);
  });

  it('skips tracked files deleted in the working tree and removes them from the prepared tree', () => {
    const s = plan({ tracked: [entry('kept'), entry('gone')], dirty: ['gone'], stats: { kept: file(0o644, 1) } });
    expect(s.files.map((f) => f.path)).toEqual(['kept']);
    expect(s.skipped).toEqual([{ path: 'gone', reason: 'deleted in the working tree' }]);
    expect(s.prepRemove.map((p) => p.path)).toEqual(['gone']);
    expect(s.modified).toEqual([]);
  });

  it('carries modified tracked files as prepared changes', () => {
    const s = plan({ tracked: [entry('m'), entry('c')], dirty: ['m'], stats: { m: file(0o644, 9), c: file(0o644, 1) } });
    expect(s.modified.map((p) => p.path)).toEqual(['m']);
    expect(s.prepAdd.map((p) => p.path)).toEqual(['m']);
  });

  it('lists submodules apart and never in the prepared changes', () => {
    const s = plan({ tracked: [entry('lib', '160000'), entry('a')], dirty: ['lib'], stats: { a: file(0o644, 1), lib: { kind: 'directory' } } });
    expect(s.submodules.map((p) => p.path)).toEqual(['lib']);
    expect(s.files.map((f) => f.path)).toEqual(['a']);
    expect(s.prepAdd).toEqual([]);
    expect(s.prepRemove).toEqual([]);
  });

  it('skips a tracked path that became a directory or a fifo', () => {
    const s = plan({ tracked: [entry('d'), entry('f')], stats: { d: { kind: 'directory' }, f: { kind: 'other' } } });
    expect(s.skipped.map((x) => x.reason)).toEqual(['a directory in the working tree', 'not a regular file or symlink']);
  });
});

describe('submoduleRefusal', () => {
  it('names the submodules and the way out', () => {
    expect(submoduleRefusal(['lib', 'vendor/x'])).toBe(
      'the repo has submodules (lib, vendor/x); shallow mode copies only the top repository\'s HEAD: use --mode full_copy',
    );
    expect(submoduleRefusal(['1', '2', '3', '4', '5', '6', '7'])).toMatch(/1, 2, 3, 4, 5, and 2 more/);
  });
});
