/**
 * Host repos that try to make prepare do more than copy their files: a repo-local core.fsmonitor
 * (or hook, or signing program) that would run during prepare, symlinked directories in the working
 * tree or a submodule that would make tar read host files outside the repo, and an uninitialized
 * submodule that must reach the guest as the same empty gitlink. Real git and tar; the bundle's tar
 * stream is extracted into a temp directory exactly as the guest's import script does.
 */
import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../host/exec.js';
import { buildBundle, type Bundle } from './bundle.js';
import { inspectRepo } from './repo.js';
import { tarInvocations } from './stream.js';
import { planWorkspace } from './plan.js';
import { commitAll, g, makeRepo } from '../../test/gitrepo.fixture.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'banger-hostile-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function bundleOf(root: string, mode: 'shallow' | 'full_copy', includeUntracked = false): Promise<Bundle> {
  const repo = await inspectRepo(root);
  const plan = await planWorkspace(repo, { mode, includeUntracked });
  return buildBundle({ repo, plan, tmpDir: dir });
}

/** The guest side of prepare, minus SSH: every tar of the stream extracted into `dest`. */
async function materialize(b: Bundle, dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  for (const argv of tarInvocations(b.parts)) {
    const out = await run(argv, { binary: true });
    await run(['tar', '-x', '-i', '-f', '-', '-C', dest, '--no-same-owner'], { input: out.stdoutBytes });
  }
  if (b.checkout) await g(dest, 'reset', '-q', '--hard');
}

describe('config in the host repo that would run programs during prepare', () => {
  it('core.fsmonitor, core.hooksPath and commit.gpgSign of the repo never run', async () => {
    const host = await makeRepo(join(dir, 'fsmon'), { 'a.txt': 'a\n', 'b.txt': 'b\n' });
    const marker = join(dir, 'fsmonitor-ran');
    const script = join(dir, 'evil.sh');
    await writeFile(script, `#!/bin/sh\necho "$0 $*" >> ${marker}\nexit 1\n`);
    await chmod(script, 0o755);
    await g(host, 'config', 'core.fsmonitor', script);
    await g(host, 'config', 'commit.gpgSign', 'true');
    await g(host, 'config', 'gpg.program', script);
    await mkdir(join(host, 'hooks'));
    for (const h of ['post-index-change', 'reference-transaction', 'pre-commit']) {
      await writeFile(join(host, 'hooks', h), `#!/bin/sh\necho hook ${h} >> ${marker}\n`);
      await chmod(join(host, 'hooks', h), 0o755);
    }
    await g(host, 'config', 'core.hooksPath', join(host, 'hooks'));
    await rm(marker, { force: true });
    // An uncommitted edit makes prepare write the prepared commit (commit-tree) and refresh an index.
    await writeFile(join(host, 'a.txt'), 'edited\n');
    await writeFile(join(host, 'new.txt'), 'new\n');
    const b = await bundleOf(host, 'full_copy', true);
    try {
      expect(b.preparedCommit).not.toBe(b.headCommit);
    } finally {
      await b.cleanup();
    }
    expect(existsSync(marker) ? readFileSync(marker, 'utf8') : '').toBe('');
  });
});

describe('symlinks in the host working tree are never followed', () => {
  it('a tracked directory replaced by a symlink to a host directory: its files are not read through it', async () => {
    const outside = join(dir, 'outside');
    await mkdir(outside, { recursive: true });
    await writeFile(join(outside, 'hostname'), 'HOST SECRET\n');

    const lib = await makeRepo(join(dir, 'lib1'), { 'etc/hostname': 'lib\n', 'lib.c': 'int x;\n' });
    const host = await makeRepo(join(dir, 'sup1'), { 'd/hostname': 'top\n', 'main.c': 'int main;\n' });
    await g(host, '-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', lib, 'vendor/lib');
    await commitAll(host, 'submodule');
    // Replace a tracked directory by a symlink, in the top repo and in the submodule.
    for (const d of [join(host, 'd'), join(host, 'vendor/lib/etc')]) {
      await rm(d, { recursive: true });
      await symlink(outside, d);
    }
    const b = await bundleOf(host, 'full_copy', true);
    const dest = join(dir, 'guest1');
    try {
      await materialize(b, dest);
      expect(b.skipped).toEqual(
        expect.arrayContaining([
          { path: 'd/hostname', reason: expect.stringMatching(/symbolic link/) },
          { path: 'vendor/lib/etc/hostname', reason: expect.stringMatching(/symbolic link/) },
        ]),
      );
    } finally {
      await b.cleanup();
    }
    const found = (await run(['grep', '-rl', 'HOST SECRET', dest], { check: false })).stdout;
    expect(found).toBe('');
    // The untracked symlink itself travels as a link, pointing where it pointed.
    expect(lstatSync(join(dest, 'd')).isSymbolicLink()).toBe(true);
  });

  it('a submodule whose path is a symlink to another repository is not copied through the link', async () => {
    const lib = await makeRepo(join(dir, 'lib2'), { 'lib.c': 'int x;\n' });
    const other = await makeRepo(join(dir, 'other2'), { 'secret.txt': 'HOST SECRET\n' });
    const host = await makeRepo(join(dir, 'sup2'), { 'main.c': 'int main;\n' });
    await g(host, '-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', lib, 'vendor/lib');
    await commitAll(host, 'submodule');
    await g(host, 'submodule', 'deinit', '-q', '-f', 'vendor/lib');
    await rm(join(host, 'vendor/lib'), { recursive: true, force: true });
    await symlink(other, join(host, 'vendor/lib'));
    const b = await bundleOf(host, 'full_copy');
    const dest = join(dir, 'guest2');
    try {
      await materialize(b, dest);
    } finally {
      await b.cleanup();
    }
    expect((await run(['grep', '-rl', 'HOST SECRET', dest], { check: false })).stdout).toBe('');
  });
});

describe('an uninitialized submodule', () => {
  it('reaches the guest as the same empty gitlink: status is clean and the export diff is empty', async () => {
    const lib = await makeRepo(join(dir, 'lib3'), { 'lib.c': 'int x;\n' });
    const sup = await makeRepo(join(dir, 'sup3'), { 'main.c': 'int main;\n' });
    await g(sup, '-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', lib, 'vendor/lib');
    await commitAll(sup, 'submodule');
    const host = join(dir, 'clone3');
    await run(['git', 'clone', '-q', sup, host]); // submodules not checked out
    expect(await readdir(join(host, 'vendor/lib'))).toEqual([]);
    expect(await g(host, 'status', '--porcelain')).toBe('');

    const b = await bundleOf(host, 'full_copy');
    const dest = join(dir, 'guest3');
    try {
      await materialize(b, dest);
      expect(b.skipped).toEqual([{ path: 'vendor/lib', reason: expect.stringMatching(/not initialized on the host/) }]);
    } finally {
      await b.cleanup();
    }
    expect(statSync(join(dest, 'vendor/lib')).isDirectory()).toBe(true);
    expect(await g(dest, 'status', '--porcelain')).toBe('');
    expect(await g(dest, 'diff', 'HEAD', '--')).toBe('');
  });
});

describe("prepare's temp files", () => {
  it('live in a private directory (0700) and are created 0600', async () => {
    const host = await makeRepo(join(dir, 'private'), { 'a.txt': 'a\n' });
    await writeFile(join(host, 'a.txt'), 'edited\n');
    const b = await bundleOf(host, 'shallow');
    try {
      expect(lstatSync(b.dir).mode & 0o777).toBe(0o700);
      for (const f of ['files.list', 'skel/.git/config', 'skel/.git/HEAD', 'skel/.git/packed-refs']) {
        const st = lstatSync(join(b.dir, f));
        expect([f, st.isFile(), st.mode & 0o777]).toEqual([f, true, 0o600]);
      }
    } finally {
      await b.cleanup();
    }
    expect(existsSync(b.dir)).toBe(false);
  });
});
