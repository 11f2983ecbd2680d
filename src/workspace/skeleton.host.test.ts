import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../host/exec.js';
import { configText, configValue, skeletonFiles } from './skeleton.js';

const C = 'a'.repeat(40);

describe('configValue', () => {
  it.each([
    ['plain', '"plain"'],
    ['Ann "The" O\'Neil', '"Ann \\"The\\" O\'Neil"'],
    ['back\\slash', '"back\\\\slash"'],
    ['new\nline\ttab', '"new\\nline\\ttab"'],
    ['; not a comment # either', '"; not a comment # either"'],
  ])('%j', (v, want) => expect(configValue(v)).toBe(want));

  it('round-trips through git config', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'banger-cfg-'));
    try {
      const name = 'Zoë "Z" \\ O\'Brien ; #x';
      const email = 'z@example.com';
      await writeFile(join(dir, 'config'), configText({ objectFormat: 'sha1', identity: { name, email }, extraConfig: [{ key: 'submodule.we"ird.url', value: '../a b.git' }] }));
      const get = async (k: string) => (await run(['git', 'config', '--file', join(dir, 'config'), '--get', k])).stdout.replace(/\n$/, '');
      expect(await get('user.name')).toBe(name);
      expect(await get('user.email')).toBe(email);
      expect(await get('core.checkstat')).toBe('minimal');
      expect(await get('submodule.we"ird.url')).toBe('../a b.git');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('declares sha256 repositories', () => {
    expect(configText({ objectFormat: 'sha256', identity: { name: null, email: null } })).toMatch(/repositoryformatversion = 1[\s\S]*\[extensions\]\n\tobjectformat = sha256/);
    expect(configText({ objectFormat: 'sha1', identity: { name: null, email: null } })).not.toMatch(/\[user\]|extensions/);
  });
});

describe('skeletonFiles', () => {
  const base = { commit: C, refs: [], shallow: [], objectFormat: 'sha1', identity: { name: null, email: null } };
  const get = (files: ReturnType<typeof skeletonFiles>, p: string) => files.find((f) => f.path === p)?.content;

  it('points HEAD at the branch, or detaches it', () => {
    expect(get(skeletonFiles({ ...base, branch: 'feature/x' }), 'HEAD')).toBe('ref: refs/heads/feature/x\n');
    expect(get(skeletonFiles({ ...base, branch: null }), 'HEAD')).toBe(`${C}\n`);
  });

  it('writes sorted, de-duplicated packed-refs and the shallow list', () => {
    const files = skeletonFiles({
      ...base,
      branch: 'main',
      refs: [
        { name: 'refs/heads/main', commit: C },
        { name: 'refs/banger/prepared', commit: 'b'.repeat(40) },
        { name: 'refs/heads/main', commit: C },
      ],
      shallow: [C, C],
    });
    expect(get(files, 'packed-refs')).toBe(`${'b'.repeat(40)} refs/banger/prepared\n${C} refs/heads/main\n`);
    expect(get(files, 'shallow')).toBe(`${C}\n`);
  });

  it('refuses a ref name that would corrupt packed-refs', () => {
    expect(() => skeletonFiles({ ...base, branch: null, refs: [{ name: 'refs/heads/a\nb', commit: C }] })).toThrow(/unexpected ref name/);
  });

  it('makes a directory git accepts as a repository at that commit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'banger-skel-'));
    try {
      // a real commit to point at
      await run(['git', 'init', '-q', join(dir, 'src')]);
      await run(['git', '-C', join(dir, 'src'), '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'x']);
      const commit = (await run(['git', '-C', join(dir, 'src'), 'rev-parse', 'HEAD'])).stdout.trim();
      const g = join(dir, 'dst', '.git');
      for (const d of ['refs/heads', 'refs/tags', 'objects/info', 'objects/pack']) await mkdir(join(g, d), { recursive: true });
      await writeFile(join(g, 'objects/info/alternates'), `${join(dir, 'src', '.git', 'objects')}\n`);
      for (const f of skeletonFiles({ ...base, commit, branch: 'work', refs: [{ name: 'refs/heads/work', commit }], identity: { name: 'T', email: 't@t' } })) {
        await mkdir(join(g, f.path, '..'), { recursive: true });
        await writeFile(join(g, f.path), f.content);
      }
      expect((await run(['git', '-C', join(dir, 'dst'), 'rev-parse', '--abbrev-ref', 'HEAD'])).stdout.trim()).toBe('work');
      expect((await run(['git', '-C', join(dir, 'dst'), 'rev-parse', 'HEAD'])).stdout.trim()).toBe(commit);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
