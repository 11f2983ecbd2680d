/**
 * The whole workspace pipeline without a VM: the real service, real host git and tar, a real SSH
 * connection to a private sshd on 127.0.0.1 (as root), and the real guest scripts — the "guest"
 * filesystem is a temp directory on this host. workspace.vm.test.ts repeats the key cases on a real guest.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { mkdtemp, writeFile, unlink, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { WorkspaceExportParams, WorkspacePrepareParams } from '../api/workspace.js';
import { createLocks } from '../host/locks.js';
import type { GuestConnection } from '../guest/connection.js';
import { sshdUnavailableReason, startTestSshGuest, type TestSshGuest } from '../../test/sshd.fixture.js';
import { silentLogger } from '../host/logger.js';
import { createWorkspaceService, type WorkspaceService } from './service.js';
import { ODD_NAMES, commitAll, g, gitRun, makeRepo, writeFiles } from '../../test/gitrepo.fixture.js';
import { testVms, type TestVms } from '../../test/workspace-vms.fixture.js';

const skipReason = await sshdUnavailableReason();
if (skipReason) console.log(`skipping workspace pipeline tests: ${skipReason}`);

describe.skipIf(skipReason !== null)('workspace pipeline over a real sshd', () => {
  let guest: TestSshGuest;
  let dir: string;
  let conn: GuestConnection;
  let vms: TestVms;
  let svc: WorkspaceService;
  let n = 0;
  const guestDir = () => join(dir, 'guest', `ws${++n}`);

  const prepare = (p: Omit<z.input<typeof WorkspacePrepareParams>, 'name'>) => svc.prepare(WorkspacePrepareParams.parse({ name: 'web', ...p }));
  const exportPatch = async (p: Omit<z.input<typeof WorkspaceExportParams>, 'name'> = {}) => {
    const chunks: Buffer[] = [];
    const r = await svc.export(WorkspaceExportParams.parse({ name: 'web', ...p }), { write: (c) => chunks.push(c) });
    return { ...r, patch: Buffer.concat(chunks) };
  };
  /** Fingerprint of what export must never change in the guest repo. */
  const guestState = async (repo: string) => ({
    index: createHash('sha256').update(readFileSync(join(repo, '.git', 'index'))).digest('hex'),
    refs: await g(repo, 'for-each-ref'),
    head: await g(repo, 'rev-parse', 'HEAD'),
    files: (await readdir(repo)).sort(),
  });

  beforeAll(async () => {
    guest = await startTestSshGuest({ tmpPrefix: 'banger-wsp-' });
    dir = guest.dir;
    conn = await guest.connect({ alias: 'web.vm' });
    const locks = createLocks();
    vms = testVms(locks, () => conn);
    svc = createWorkspaceService({ vms, locks, log: silentLogger });
  });
  afterAll(async () => {
    await guest?.close();
  });

  it('copies tracked files with modes, symlinks and odd names; the guest HEAD is the host HEAD; ignored and untracked stay out', async () => {
    const odd = Object.fromEntries(ODD_NAMES.map((name, i) => [`odd/${name}`, `content ${i}\n`]));
    const host = await makeRepo(join(dir, 'h1'), {
      'README.md': '# hi\n',
      'bin/run.sh': { content: '#!/bin/sh\necho run\n', mode: 0o755 },
      'private.txt': { content: 'secret-ish\n', mode: 0o600 },
      'link-to-readme': { symlink: 'README.md' },
      'dangling': { symlink: 'nowhere/at/all' },
      '.gitignore': '*.log\nbuild/\n',
      ...odd,
    });
    await writeFiles(host, { 'debug.log': 'ignored\n', 'build/out.o': 'ignored\n', 'notes.txt': 'untracked\n' });
    const dest = guestDir();
    const r = await prepare({ hostPath: join(host, 'odd'), guestPath: dest });
    const head = (await g(host, 'rev-parse', 'HEAD')).trim();
    expect(r.workspace).toMatchObject({ guestPath: dest, hostSource: host, headCommit: head, branch: 'main', mode: 'shallow' });
    expect(r.preparedCommit).toBe(head);
    expect(r.fileCount).toBe(6 + ODD_NAMES.length);
    expect(vms.rec.workspace).toEqual(r.workspace);

    for (const name of ODD_NAMES) expect(readFileSync(join(dest, 'odd', name), 'utf8')).toBe(readFileSync(join(host, 'odd', name), 'utf8'));
    expect(['/root/pwned', join(dir, 'guest', 'pwned'), 'pwned'].some((p) => existsSync(p))).toBe(false);
    expect(lstatSync(join(dest, 'bin/run.sh')).mode & 0o777).toBe(0o755);
    expect(lstatSync(join(dest, 'private.txt')).mode & 0o777).toBe(0o600);
    expect(readlinkSync(join(dest, 'link-to-readme'))).toBe('README.md');
    expect(readlinkSync(join(dest, 'dangling'))).toBe('nowhere/at/all');
    for (const absent of ['debug.log', 'build', 'notes.txt']) expect(existsSync(join(dest, absent))).toBe(false);

    expect((await g(dest, 'rev-parse', 'HEAD')).trim()).toBe(head);
    expect((await g(dest, 'symbolic-ref', 'HEAD')).trim()).toBe('refs/heads/main');
    expect(await g(dest, 'status', '--porcelain')).toBe('');
    expect((await g(dest, 'config', 'user.email')).trim()).toBe('test@example.com');
    expect((await g(dest, 'rev-parse', '--is-shallow-repository')).trim()).toBe('true');
    expect((await gitRun(dest, ['fsck', '--no-progress'])).code).toBe(0);
    // no temp directory left beside it
    expect((await readdir(join(dir, 'guest'))).filter((e) => e.startsWith('.banger-ws'))).toEqual([]);
  });

  it('with --include-untracked copies untracked files but never ignored ones', async () => {
    const host = await makeRepo(join(dir, 'h2'), { 'a.txt': 'a\n', '.gitignore': '*.log\n' });
    await writeFiles(host, { 'new.txt': 'new\n', 'sub dir/x y.txt': 'x\n', 'skip.log': 'no\n' });
    const dest = guestDir();
    const r = await prepare({ hostPath: host, guestPath: dest, includeUntracked: true });
    expect(readFileSync(join(dest, 'new.txt'), 'utf8')).toBe('new\n');
    expect(readFileSync(join(dest, 'sub dir/x y.txt'), 'utf8')).toBe('x\n');
    expect(existsSync(join(dest, 'skip.log'))).toBe(false);
    // The copied untracked files are part of the prepared state: nothing to export yet.
    expect(r.preparedCommit).not.toBe(r.workspace.headCommit);
    expect((await g(dest, 'status', '--porcelain')).split('\n').filter(Boolean).sort()).toEqual(['?? "sub dir/"', '?? new.txt']);
    const e = await exportPatch();
    expect(e.files).toEqual([]);
    expect(e.patch.length).toBe(0);
  });

  it('carries uncommitted host changes; export then holds only the guest changes and applies to the host as it is', async () => {
    const host = await makeRepo(join(dir, 'h3'), { 'wip.txt': 'one\n', 'gone.txt': 'bye\n', 'other.txt': 'o\n', 'staged.txt': 's\n' });
    await writeFile(join(host, 'wip.txt'), 'one\nhost edit\n');
    await unlink(join(host, 'gone.txt'));
    await writeFile(join(host, 'staged.txt'), 's2\n');
    await g(host, 'add', 'staged.txt');
    const dest = guestDir();
    const r = await prepare({ hostPath: host, guestPath: dest });
    expect(r.preparedCommit).not.toBe(r.workspace.headCommit);
    expect(readFileSync(join(dest, 'wip.txt'), 'utf8')).toBe('one\nhost edit\n');
    expect(existsSync(join(dest, 'gone.txt'))).toBe(false);
    expect((await g(dest, 'status', '--porcelain')).split('\n').filter(Boolean).sort()).toEqual([' D gone.txt', ' M staged.txt', ' M wip.txt']);
    expect((await g(dest, 'rev-parse', 'refs/banger/prepared^')).trim()).toBe(r.workspace.headCommit);

    await writeFile(join(dest, 'other.txt'), 'o\nguest edit\n');
    const e = await exportPatch();
    expect(e.files).toEqual(['other.txt']);
    expect(e.baseCommit).toBe(r.preparedCommit);
    expect((await gitRun(host, ['apply', '--check', '-'], e.patch)).code).toBe(0);
    // Against the recorded head instead, the host's own edits come back too.
    const vsHead = await exportPatch({ baseCommit: r.workspace.headCommit, nameOnly: true });
    expect(vsHead.files.sort()).toEqual(['gone.txt', 'other.txt', 'staged.txt', 'wip.txt']);
  });

  it('exports guest commits, edits, deletions and new files (binary-safe) without touching the guest index, refs or tree', async () => {
    const host = await makeRepo(join(dir, 'h4'), { 'a.txt': 'a\n', 'b.txt': 'b\n', 'c.bin': { content: Buffer.from([0, 1, 2, 3]) }, '.gitignore': '*.tmp\n' });
    const dest = guestDir();
    const r = await prepare({ hostPath: host, guestPath: dest });
    await writeFile(join(dest, 'a.txt'), 'a\ncommitted in guest\n');
    await g(dest, 'commit', '-q', '-am', 'guest commit');
    await writeFile(join(dest, 'b.txt'), 'b\nuncommitted\n');
    await writeFile(join(dest, 'c.bin'), Buffer.from([0, 9, 9, 0, 255]));
    await writeFile(join(dest, "new file 'q'.txt"), 'new\n');
    await writeFile(join(dest, 'junk.tmp'), 'ignored\n');
    await g(dest, 'add', 'b.txt'); // something staged, so the index differs from HEAD
    await g(dest, 'status', '--porcelain'); // let git settle its index before fingerprinting
    const before = await guestState(dest);
    const statusBefore = await g(dest, 'status', '--porcelain');

    const e = await exportPatch();
    expect(e.baseCommit).toBe(r.workspace.headCommit);
    expect(e.files.sort()).toEqual(['a.txt', 'b.txt', 'c.bin', "new file 'q'.txt"]);
    expect(e.patch.toString()).toContain('GIT binary patch');
    expect(e.bytes).toBe(e.patch.length);
    expect(await guestState(dest)).toEqual(before);
    expect(await g(dest, 'status', '--porcelain')).toBe(statusBefore);
    expect((await g(dest, 'count-objects')).trim()).toBe((await g(dest, 'count-objects')).trim());

    // the patch applies to the host and reproduces the guest's files
    expect((await gitRun(host, ['apply', '--check', '-'], e.patch)).code).toBe(0);
    const names = await exportPatch({ nameOnly: true });
    expect(names.patch.length).toBe(0);
    expect(names.files.sort()).toEqual(e.files.sort());

    // --apply: 3-way, staged in the host index
    const applied = await exportPatch({ apply: true });
    expect(applied.appliedTo).toBe(host);
    expect(applied.patch.length).toBe(0);
    expect(readFileSync(join(host, 'a.txt'), 'utf8')).toBe('a\ncommitted in guest\n');
    expect(readFileSync(join(host, 'c.bin'))).toEqual(Buffer.from([0, 9, 9, 0, 255]));
    expect(readFileSync(join(host, "new file 'q'.txt"), 'utf8')).toBe('new\n');
    expect((await g(host, 'diff', '--cached', '--name-only')).split('\n').filter(Boolean).sort()).toEqual(e.files.sort());
  });

  it('--apply refuses to overwrite uncommitted host changes, and says which', async () => {
    const host = await makeRepo(join(dir, 'h5'), { 'a.txt': 'a\n', 'b.txt': 'b\n' });
    const dest = guestDir();
    await prepare({ hostPath: host, guestPath: dest });
    await writeFile(join(dest, 'a.txt'), 'guest\n');
    await writeFile(join(host, 'a.txt'), 'host edit\n');
    await expect(exportPatch({ apply: true })).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/would overwrite uncommitted changes in .*: a\.txt; commit or stash them first/),
    });
    expect(readFileSync(join(host, 'a.txt'), 'utf8')).toBe('host edit\n');
    // a committed conflicting change: refused without leaving conflict markers
    await commitAll(host, 'host change');
    await expect(exportPatch({ apply: true })).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/does not apply cleanly/) });
    expect(readFileSync(join(host, 'a.txt'), 'utf8')).toBe('host edit\n');
    expect(await g(host, 'status', '--porcelain')).toBe('');
  });

  it('--branch creates the branch at HEAD; --from checks out another commit on it', async () => {
    const host = await makeRepo(join(dir, 'h6'), { 'v.txt': 'v1\n', 'run.sh': { content: 'echo\n', mode: 0o755 } });
    const first = (await g(host, 'rev-parse', 'HEAD')).trim();
    await writeFile(join(host, 'v.txt'), 'v2\n');
    const second = await commitAll(host, 'v2');
    const d1 = guestDir();
    const r1 = await prepare({ hostPath: host, guestPath: d1, branch: 'agent/work' });
    expect(r1.workspace).toMatchObject({ branch: 'agent/work', headCommit: second });
    expect((await g(d1, 'symbolic-ref', '--short', 'HEAD')).trim()).toBe('agent/work');
    expect((await g(d1, 'rev-parse', 'HEAD')).trim()).toBe(second);

    const d2 = guestDir();
    const r2 = await prepare({ hostPath: host, guestPath: d2, branch: 'old', from: first });
    expect(r2.workspace).toMatchObject({ branch: 'old', headCommit: first });
    expect((await g(d2, 'rev-parse', 'HEAD')).trim()).toBe(first);
    expect(readFileSync(join(d2, 'v.txt'), 'utf8')).toBe('v1\n');
    expect(lstatSync(join(d2, 'run.sh')).mode & 0o111).not.toBe(0);
    expect(await g(d2, 'status', '--porcelain')).toBe('');

    await expect(prepare({ hostPath: host, guestPath: guestDir(), branch: 'x', from: 'no-such-ref' })).rejects.toMatchObject({
      code: 'bad_request',
      message: expect.stringMatching(/--from no-such-ref: no such commit/),
    });
    await expect(prepare({ hostPath: host, guestPath: guestDir(), branch: 'bad..name' })).rejects.toMatchObject({ code: 'bad_request' });
    expect(() => WorkspacePrepareParams.parse({ name: 'web', hostPath: host, from: first })).toThrow(/--from needs --branch/);
  });

  it('refuses submodules in shallow mode, naming them; full_copy carries them and the whole history', async () => {
    const lib = await makeRepo(join(dir, 'lib'), { 'lib.c': 'int x;\n' });
    const host = await makeRepo(join(dir, 'h7'), { 'main.c': 'int main;\n' });
    await g(host, '-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', lib, 'vendor/lib');
    await commitAll(host, 'add submodule');
    await writeFile(join(host, 'main.c'), 'int main(void);\n');
    await commitAll(host, 'third');
    await expect(prepare({ hostPath: host, guestPath: guestDir() })).rejects.toMatchObject({
      code: 'bad_request',
      message: expect.stringMatching(/submodules \(vendor\/lib\).*--mode full_copy/),
    });
    const dest = guestDir();
    const r = await prepare({ hostPath: host, guestPath: dest, mode: 'full_copy' });
    expect(r.workspace.mode).toBe('full_copy');
    expect((await g(dest, 'rev-list', '--count', 'HEAD')).trim()).toBe('3');
    expect(readFileSync(join(dest, 'vendor/lib/lib.c'), 'utf8')).toBe('int x;\n');
    expect((await g(join(dest, 'vendor/lib'), 'rev-parse', 'HEAD')).trim()).toBe((await g(lib, 'rev-parse', 'HEAD')).trim());
    expect(await g(dest, 'status', '--porcelain')).toBe('');
    expect(await g(dest, 'submodule', 'status')).toMatch(/^ [0-9a-f]{40} vendor\/lib/);
  });

  it('refuses a non-empty guest path, and leaves nothing when the host side fails mid-stream', async () => {
    const host = await makeRepo(join(dir, 'h8'), { 'a.txt': 'a\n' });
    const dest = guestDir();
    await prepare({ hostPath: host, guestPath: dest });
    await expect(prepare({ hostPath: host, guestPath: dest })).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/already exists in the guest and is not empty/) });
    expect(existsSync(join(dest, 'a.txt'))).toBe(true);

    // A file that vanishes between planning and streaming: host tar fails, the marker is never sent.
    const vanishing = await makeRepo(join(dir, 'h9'), { 'a.txt': 'a\n', 'b.txt': 'b\n' });
    const failing = createWorkspaceService({
      vms,
      locks: createLocks(),
      log: silentLogger,
      importer: async (session, bundle, opts) => {
        rmSync(join(vanishing, 'b.txt'));
        const { streamBundle } = await import('./importer.js');
        return streamBundle(session, bundle, opts);
      },
    });
    const d2 = guestDir();
    await expect(failing.prepare(WorkspacePrepareParams.parse({ name: 'web', hostPath: vanishing, guestPath: d2 }))).rejects.toMatchObject({
      message: expect.stringMatching(/reading the host files failed .*nothing was copied/),
    });
    expect(existsSync(d2)).toBe(false);
    expect((await readdir(join(dir, 'guest'))).filter((e) => e.startsWith('.banger-ws'))).toEqual([]);
  });

  it('works in a guest path with spaces, quotes and $(...), and refuses relative or .. guest paths', async () => {
    const host = await makeRepo(join(dir, 'h10'), { 'a.txt': 'a\n' });
    const dest = join(dir, 'guest', `odd 'dir' "$(touch pwned2)" \`id\``, 'ws');
    await prepare({ hostPath: host, guestPath: dest });
    expect(readFileSync(join(dest, 'a.txt'), 'utf8')).toBe('a\n');
    await writeFile(join(dest, 'a.txt'), 'b\n');
    expect((await exportPatch({ guestPath: dest, nameOnly: true })).files).toEqual(['a.txt']);
    expect(['/root/pwned2', join(dir, 'guest', 'pwned2'), 'pwned2'].some((p) => existsSync(p))).toBe(false);
    for (const bad of ['relative/path', '/root/../etc', '/']) {
      expect(() => WorkspacePrepareParams.parse({ name: 'web', hostPath: host, guestPath: bad })).toThrow(/absolute|\.\.|cannot be \//);
    }
    expect(WorkspacePrepareParams.parse({ name: 'web', hostPath: host, guestPath: '/root//x/./y/' }).guestPath).toBe('/root/x/y');
  });

  it('refuses a directory that is not a git repository, or has no commits', async () => {
    const plain = await mkdtemp(join(dir, 'plain-'));
    await expect(prepare({ hostPath: plain, guestPath: guestDir() })).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/not inside a git repository/) });
    await g(plain, 'init', '-q');
    await expect(prepare({ hostPath: plain, guestPath: guestDir() })).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/no commits yet/) });
  });
});
