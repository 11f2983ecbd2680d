import { describe, expect, it } from 'vitest';
import type { TarEntryHeader } from '../tarsafety.js';
import { planLayers } from './layers.js';

const d = (name: string): TarEntryHeader => ({ name, type: 'directory' });
const f = (name: string): TarEntryHeader => ({ name, type: 'file' });
const s = (name: string, linkname: string): TarEntryHeader => ({ name, type: 'symlink', linkname });
const h = (name: string, linkname: string): TarEntryHeader => ({ name, type: 'link', linkname });

/** The flattened result as "path" or "path -> target" (hard link), sorted. */
function result(layers: TarEntryHeader[][]): string[] {
  return [...planLayers(layers).values()].map((a) => (a.linkTarget ? `${a.path} => ${a.linkTarget}` : a.path)).sort();
}

describe('planLayers: applying layers', () => {
  it.each<[string, TarEntryHeader[][], string[]]>([
    ['one layer as is', [[d('./'), d('./etc/'), f('./etc/a'), s('./bin', 'usr/bin')]], ['', 'bin', 'etc', 'etc/a']],
    ['an upper file replaces a lower one', [[f('a')], [f('a')]], ['a']],
    ['a whiteout removes a lower file', [[d('etc'), f('etc/a'), f('etc/b')], [f('etc/.wh.a')]], ['etc', 'etc/b']],
    ['a whiteout removes a lower directory and all below it', [[d('x'), d('x/y'), f('x/y/z'), f('k')], [f('.wh.x')]], ['k']],
    ['a whiteout of a missing entry is a no-op', [[f('a')], [f('.wh.nothing')]], ['a']],
    ['a whiteout does not remove what its own layer adds', [[f('a')], [f('a'), f('.wh.a')]], ['a']],
    ['an opaque dir hides lower children, keeps its own layer', [[d('o'), f('o/old'), d('o/sub'), f('o/sub/x'), f('keep')], [d('o'), f('o/new'), f('o/.wh..wh..opq')]], ['keep', 'o', 'o/new']],
    ['AUFS metadata at the root is ignored', [[f('a')], [d('.wh..wh.plnk'), f('.wh..wh.plnk/1')]], ['a']],
    ['a file replacing a directory drops its children', [[d('p'), f('p/c')], [f('p')]], ['p']],
    ['a directory over a directory keeps the children', [[d('p'), f('p/c')], [d('p')]], ['p', 'p/c']],
    ['a hard link in the same layer', [[f('a'), h('b', 'a')]], ['a', 'b => a']],
    ['a hard link to a lower layer file', [[f('a')], [h('b', 'a')]], ['a', 'b => a']],
    ['a hard link whose file is whited out later takes the content', [[f('a'), h('b', 'a'), h('c', 'a')], [f('.wh.a')]], ['b', 'c => b']],
    ['a symlink replaced by a file (no path goes through it)', [[s('l', '/etc')], [f('l')]], ['l']],
    ['absolute symlink targets stay (resolved inside the guest)', [[s('l', '/etc/passwd')]], ['l']],
  ])('%s', (_name, layers, expected) => {
    expect(result(layers)).toEqual(expected);
  });

  it('keys the surviving entries by layer and index', () => {
    const plan = planLayers([[d('etc'), f('etc/a')], [f('etc/a')]]);
    expect([...plan.keys()].sort()).toEqual(['0:0', '1:0']);
  });
});

describe('planLayers: hostile layers are refused, naming the entry', () => {
  it.each<[string, TarEntryHeader[][], string]>([
    ['..', [[f('../evil')]], '".." path component'],
    ['.. inside', [[f('a/../../evil')]], '".." path component'],
    ['absolute path', [[f('/etc/passwd')]], 'absolute path'],
    ['symlink then a file through it (same layer)', [[s('l', '/etc'), f('l/passwd')]], 'lies under the symlink "l"'],
    ['symlink then a file through it (next layer)', [[s('l', '/etc')], [f('l/passwd')]], 'lies under the symlink "l"'],
    ['symlink then a dir through it', [[s('l', '../..x')]], 'escapes the root'],
    ['a file under a file', [[f('a')], [f('a/b')]], 'not a directory'],
    ['hard link to outside', [[h('x', '../../etc/shadow')]], 'hard link target: ".." path component'],
    ['hard link to an absolute path', [[h('x', '/etc/shadow')]], 'hard link target: absolute path'],
    ['hard link to nothing', [[h('x', 'etc/shadow')]], 'not a file in the image'],
    ['hard link through a symlink', [[s('l', '/'), h('x', 'l/etc/shadow')]], 'under the symlink "l"'],
    ['whiteout naming the parent', [[d('a'), f('a/b')], [f('a/.wh...')]], 'whiteout names ".."'],
    ['whiteout naming its own dir', [[f('a/.wh..')]], '"."'],
    ['whiteout through a symlink', [[s('l', '/etc')], [f('l/.wh.passwd')]], 'whiteout lies under the symlink "l"'],
    ['opaque marker through a symlink', [[s('l', '/etc')], [f('l/.wh..wh..opq')]], 'under the symlink'],
    ['an unknown whiteout marker', [[f('a/.wh..wh.other')]], 'unknown whiteout marker'],
    ['device node', [[{ name: 'dev/sda', type: 'block-device' }]], 'device node'],
    ['char device', [[{ name: 'dev/mem', type: 'character-device' }]], 'device node'],
    ['root that is not a directory', [[f('./')]], 'root must be a directory'],
  ])('%s', (_name, layers, reason) => {
    expect(() => planLayers(layers)).toThrow(reason);
  });
});
