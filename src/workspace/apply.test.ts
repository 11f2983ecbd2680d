import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPatch, parseNumstat } from './apply.js';
import { makeRepo } from './testrepo.js';

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
