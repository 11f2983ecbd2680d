import { existsSync, lstatSync, readlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPatch, parseNumstat } from './apply.js';
import { commitAll, makeRepo } from '../../test/gitrepo.fixture.js';

describe('parseNumstat', () => {
  it('reads plain, binary and renamed entries with odd names', () => {
    const out = Buffer.from('1\t0\ta.txt\x00-\t-\tbin\n\x002\t1\t\x00old name\x00new\nname\x00');
    expect(parseNumstat(out)).toEqual(['a.txt', 'bin\n', 'old name', 'new\nname']);
  });
});

const newFile = (path: string, line = 'x') =>
  `diff --git a/${path} b/${path}\nnew file mode 100644\n--- /dev/null\n+++ b/${path}\n@@ -0,0 +1 @@\n+${line}\n`;

describe('applyPatch refuses unsafe patches before applying anything', () => {
  let dir: string;
  let repo: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'banger-apply-'));
    repo = await makeRepo(join(dir, 'repo'), { 'a.txt': 'a\n' });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['.git/hooks/post-checkout', /inside \.git/],
    ['sub/.GIT/config', /inside \.git/],
  ])('%s', async (path, why) => {
    await expect(applyPatch(repo, Buffer.from(newFile(path)))).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(why) });
    expect(existsSync(join(repo, path))).toBe(false);
  });

  it('a path outside the repo', async () => {
    await expect(applyPatch(repo, Buffer.from(newFile('../escaped.txt')))).rejects.toMatchObject({ code: 'bad_request' });
    expect(existsSync(join(dir, 'escaped.txt'))).toBe(false);
  });

  it('garbage', async () => {
    await expect(applyPatch(repo, Buffer.from('this is not a patch\n'))).rejects.toMatchObject({ code: 'bad_request' });
  });

  it('an empty patch applies nothing', async () => {
    await expect(applyPatch(repo, Buffer.alloc(0))).resolves.toEqual({ repo, files: [] });
  });

  it('a clean patch applies, staged', async () => {
    await expect(applyPatch(join(repo), Buffer.from(newFile('ok dir/new.txt', 'fine')))).resolves.toEqual({ repo, files: ['ok dir/new.txt'] });
    expect(existsSync(join(repo, 'ok dir/new.txt'))).toBe(true);
  });
});

const newLink = (path: string, target: string) =>
  `diff --git a/${path} b/${path}\nnew file mode 120000\nindex ${'0'.repeat(40)}..${'1'.repeat(40)}\n--- /dev/null\n+++ b/${path}\n@@ -0,0 +1 @@\n+${target}\n\\ No newline at end of file\n`;

describe('applyPatch refuses symlinks that point outside the repo', () => {
  let dir: string;
  let repo: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'banger-applylink-'));
    repo = await makeRepo(join(dir, 'repo'), { 'a.txt': 'a\n', 'docs/in.md': 'x\n', 'old-link': { symlink: 'a.txt' } });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['an absolute target', newLink('etc', '/etc'), /"etc": a symlink to the absolute path "\/etc"/],
    ['a .. escape', newLink('docs/up', '../../outside'), /"docs\/up": a symlink to "..\/..\/outside", outside the repo/],
    ['a link into .git', newLink('hooks', '.git/hooks'), /inside \.git/],
    ['a link with a quoted name', newLink('sp ace', '/'), /"sp ace": a symlink to the absolute path/],
    [
      'a retargeted existing link',
      `diff --git a/old-link b/old-link\nindex ${'2'.repeat(40)}..${'3'.repeat(40)} 120000\n--- a/old-link\n+++ b/old-link\n@@ -1 +1 @@\n-a.txt\n\\ No newline at end of file\n+/etc/passwd\n\\ No newline at end of file\n`,
      /"old-link": a symlink to the absolute path/,
    ],
    [
      'a link whose target is hidden in a binary patch',
      // `printf /etc` as a binary literal (git diff --binary of a -diff file), its mode changed to a link.
      `diff --git a/bin-link b/bin-link\nnew file mode 120000\nindex ${'0'.repeat(40)}..34ed534fa65f0c6634f8606abb21db4120a3016c\nGIT binary patch\nliteral 4\nLcmdN-ElCCd13Ce0\n\nliteral 0\nHcmV?d00001\n\n`,
      /cannot be checked/,
    ],
    [
      'a rename',
      `diff --git a/old-link b/docs/moved\nsimilarity index 100%\nrename from old-link\nrename to docs/moved\n`,
      /renames a file/,
    ],
  ])('%s', async (_what, patch, why) => {
    await expect(applyPatch(repo, Buffer.from(patch))).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(why) });
    expect((await gitStatus(repo))).toBe('');
  });

  it('an existing link changed by a patch that does not state its mode', async () => {
    const patch = '--- a/old-link\n+++ b/old-link\n@@ -1 +1 @@\n-a.txt\n\\ No newline at end of file\n+/etc/passwd\n\\ No newline at end of file\n';
    await expect(applyPatch(repo, Buffer.from(patch))).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/"old-link": it changes an existing symlink/) });
    expect(readlinkSync(join(repo, 'old-link'))).toBe('a.txt');
  });

  it('links inside the repo apply, from a file as from bytes', async () => {
    const patch = newLink('docs/up', '../a.txt') + newLink('here', 'docs/in.md');
    const file = join(dir, 'links.patch');
    writeFileSync(file, patch);
    await expect(applyPatch(repo, { file, size: patch.length })).resolves.toEqual({ repo, files: ['docs/up', 'here'] });
    expect(readlinkSync(join(repo, 'docs/up'))).toBe('../a.txt');
    expect(lstatSync(join(repo, 'here')).isSymbolicLink()).toBe(true);
    await commitAll(repo, 'links');
  });
});

async function gitStatus(repo: string): Promise<string> {
  const { g } = await import('../../test/gitrepo.fixture.js');
  return g(repo, 'status', '--porcelain');
}
