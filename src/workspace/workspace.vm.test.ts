/**
 * Workspaces on a real guest, through the real CLI and daemon: one VM for the file (plus the one
 * `vm run ./repo --rm` creates). The host-only details (every planner branch, odd cases) are in
 * pipeline.host.test.ts against a local sshd; this file proves the same on the guest's git, tar and shell.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, spawnProcess } from '../host/exec.js';
import { freshInstall, type Install } from '../../test/install.fixture.js';
import { ODD_NAMES, commitAll, g, gitRun, makeRepo, writeFiles } from '../../test/gitrepo.fixture.js';

let inst: Install;
let dir: string;
let host: string;
const VM = 'ws';

/** `find` listing of a tree (mode, type, path, link target), NUL-separated, sorted: the same on host and guest. */
const LISTING = ['sh', '-c', 'cd "$1" && find . -path ./.git -prune -o -printf "%m %y %p -> %l\\0" | LC_ALL=C sort -z', 'list'];
const tmpBundles = () => readdirSync(tmpdir()).filter((e) => e.startsWith('banger-ws-')).length;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'banger-wsvm-'));
  host = await makeRepo(join(dir, 'repo'), {
    'README.md': '# repo\n',
    'bin/run.sh': { content: '#!/bin/sh\necho ran\n', mode: 0o755 },
    'private.txt': { content: 'p\n', mode: 0o600 },
    'link': { symlink: 'README.md' },
    '.gitignore': '*.log\n',
    'bin.dat': { content: Buffer.from([0, 1, 2, 255]) },
    ...Object.fromEntries(ODD_NAMES.map((n, i) => [`odd/${n}`, `odd ${i}\n`])),
  });
  await writeFiles(host, { 'debug.log': 'ignored\n', 'notes.txt': 'untracked\n' });
  inst = await freshInstall();
  const c = await inst.cli(['vm', 'create', '--name', VM]);
  if (c.code !== 0) throw new Error(`vm create failed: ${c.stderr}`);
}, 1_800_000);

afterAll(async () => {
  await inst?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const json = <T>(s: string): T => JSON.parse(s) as T;
const exec = (...argv: string[]) => inst.cli(['vm', 'exec', VM, '--', ...argv]);

describe('workspaces on a real guest', () => {
  it('dry-run prints the plan (workspace.plan: the daemon reads the repo, no VM)', async () => {
    const r = await inst.cli(['vm', 'workspace', 'prepare', 'no-such-vm', host, '--dry-run', '--include-untracked', '--json']);
    expect(r.code).toBe(0);
    const plan = json<{ mode: string; fileCount: number; bytes: number; files: Array<{ path: string }> }>(r.stdout);
    expect(plan.mode).toBe('shallow');
    expect(plan.files.map((f) => f.path)).toContain('notes.txt');
    expect(plan.files.map((f) => f.path)).not.toContain('debug.log');
    expect(plan.fileCount).toBe(7 + ODD_NAMES.length);
    const text = await inst.cli(['vm', 'workspace', 'prepare', 'no-such-vm', host, '--dry-run']);
    expect(text.stdout).toMatch(/^mode: shallow\n/);
    expect(text.stdout).toMatch(new RegExp(`\\n${6 + ODD_NAMES.length} files, `));
    expect(text.stdout).toContain('"odd/new\\nline.txt"');
  });

  it('prepares tracked files with modes, symlinks and odd names; ignored and untracked stay out; HEAD is the host HEAD', async () => {
    const t0 = Date.now();
    const r = await inst.cli(['vm', 'workspace', 'prepare', VM, host]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`${VM}: ${6 + ODD_NAMES.length} files .* in /root/repo at [0-9a-f]{12}`));
    const head = (await g(host, 'rev-parse', 'HEAD')).trim();

    // the same tree on both sides, minus the untracked and ignored files
    const hostList = (await run([...LISTING, host])).stdout.split('\0').filter((l) => !/notes\.txt|debug\.log/.test(l));
    const guestList = (await exec(...LISTING, '/root/repo')).stdout.split('\0');
    expect(guestList).toEqual(hostList);
    expect(guestList.join('\n')).toContain('777 l ./link -> README.md');
    expect(guestList.join('\n')).toContain('755 f ./bin/run.sh');
    expect(guestList.join('\n')).toContain('600 f ./private.txt');

    // a git repo at the host's HEAD, clean, on the host's branch; commands run in it
    const git = await exec('sh', '-c', 'git rev-parse HEAD && git symbolic-ref --short HEAD && git status --porcelain && pwd && cat odd/"$1"', 'x', ODD_NAMES[3]);
    expect(git.stdout).toBe(`${head}\nmain\n/root/repo\nodd 3\n`);
    const vm = json<{ workspace: { guestPath: string; hostSource: string; headCommit: string; mode: string; branch: string } }>((await inst.cli(['vm', 'show', VM])).stdout);
    expect(vm.workspace).toMatchObject({ guestPath: '/root/repo', hostSource: host, headCommit: head, mode: 'shallow', branch: 'main' });
    expect((await inst.cli(['vm', 'list'])).stdout).toMatch(/WORKSPACE[\s\S]*\/root\/repo/);
    console.log(`prepare of ${6 + ODD_NAMES.length} files through the CLI: ${Date.now() - t0} ms`);
  });

  it('exports guest commits, edits and new files without touching the guest index, refs or tree; the patch applies on the host', async () => {
    const edit = [
      'set -e',
      'printf "committed\\n" >> README.md',
      'git -c user.name=g -c user.email=g@g commit -qam "guest commit"',
      'printf "uncommitted\\n" >> "odd/$1"',
      'printf "\\000\\001new" > bin.dat',
      'printf "new\\n" > "new file.txt"',
      'printf "ignored\\n" > x.log',
      'git status --porcelain >/dev/null',
    ].join('\n');
    expect((await exec('sh', '-c', edit, 'edit', ODD_NAMES[0])).code).toBe(0);
    const FINGERPRINT = 'sha256sum .git/index; git for-each-ref; git rev-parse HEAD; GIT_OPTIONAL_LOCKS=0 git status --porcelain; ls -A';
    const before = (await exec('sh', '-c', FINGERPRINT)).stdout;

    const patchFile = join(dir, 'guest.patch');
    const e = await inst.cli(['vm', 'workspace', 'export', VM, '-o', patchFile]);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stderr).toMatch(/wrote changes to 4 files/);
    const patch = readFileSync(patchFile, 'utf8');
    expect(patch).toContain('+committed');
    expect(patch).toContain('GIT binary patch');
    expect(patch).toContain('b/new file.txt');
    expect(patch).not.toContain('x.log');
    expect((await exec('sh', '-c', FINGERPRINT)).stdout).toBe(before);

    const names = await inst.cli(['vm', 'workspace', 'export', VM, '--name-only']);
    expect(names.stdout.split('\n').filter(Boolean).sort()).toEqual(['odd/sp ace.txt', 'README.md', 'bin.dat', 'new file.txt'].sort());
    const stdoutPatch = await inst.cli(['vm', 'workspace', 'export', VM]);
    expect(stdoutPatch.stdout).toBe(patch);
    expect((await gitRun(host, ['apply', '--check', patchFile])).code).toBe(0);
  });

  it('--apply refuses to overwrite uncommitted host changes, then applies 3-way', async () => {
    await writeFile(join(host, 'README.md'), '# repo\nhost edit\n');
    const refused = await inst.cli(['vm', 'workspace', 'export', VM, '--apply']);
    expect(refused.code).toBe(5);
    expect(refused.stderr).toMatch(/would overwrite uncommitted changes in .*: README\.md; commit or stash them first/);
    expect(readFileSync(join(host, 'README.md'), 'utf8')).toBe('# repo\nhost edit\n');
    await g(host, 'checkout', '--', 'README.md');
    const applied = await inst.cli(['vm', 'workspace', 'export', VM, '--apply']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stderr).toMatch(/applied changes to 4 files in .*staged/);
    expect(readFileSync(join(host, 'README.md'), 'utf8')).toBe('# repo\ncommitted\n');
    expect(readFileSync(join(host, 'new file.txt'), 'utf8')).toBe('new\n');
    await g(host, 'reset', '-q', '--hard');
    await g(host, 'clean', '-qf', '--', 'new file.txt');
  });

  it('--branch/--from check out another commit on a new branch; a second prepare into a used path is refused', async () => {
    const first = (await g(host, 'rev-parse', 'HEAD')).trim();
    await writeFile(join(host, 'README.md'), '# v2\n');
    await commitAll(host, 'v2');
    const r = await inst.cli(['vm', 'workspace', 'prepare', VM, host, '--guest-path', '/root/old', '--branch', 'agent/old', '--from', first]);
    expect(r.code, r.stderr).toBe(0);
    const out = await exec('sh', '-c', 'cd /root/old && git rev-parse HEAD && git symbolic-ref --short HEAD && cat README.md && git status --porcelain && test -x bin/run.sh && pwd');
    expect(out.stdout).toBe(`${first}\nagent/old\n# repo\n/root/old\n`);
    expect((await exec('pwd')).stdout).toBe('/root/old\n'); // exec follows the latest workspace

    const again = await inst.cli(['vm', 'workspace', 'prepare', VM, host, '--guest-path', '/root/old']);
    expect(again.code).toBe(5);
    expect(again.stderr).toMatch(/\/root\/old already exists in the guest and is not empty/);
    const noBranch = await inst.cli(['vm', 'workspace', 'prepare', VM, host, '--from', first]);
    expect(noBranch.code).toBe(2);
    expect(noBranch.stderr).toMatch(/--from needs --branch/);
  });

  it('refuses submodules in shallow mode, naming them', async () => {
    const lib = await makeRepo(join(dir, 'lib'), { 'lib.c': 'int x;\n' });
    const sup = await makeRepo(join(dir, 'super'), { 'main.c': 'int main;\n' });
    await g(sup, '-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', lib, 'third_party/lib');
    await commitAll(sup, 'submodule');
    const r = await inst.cli(['vm', 'workspace', 'prepare', VM, sup, '--guest-path', '/root/sup']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/submodules \(third_party\/lib\); .*use --mode full_copy/);
    const full = await inst.cli(['vm', 'workspace', 'prepare', VM, sup, '--guest-path', '/root/sup', '--mode', 'full_copy']);
    expect(full.code, full.stderr).toBe(0);
    expect((await exec('sh', '-c', 'cd /root/sup && cat third_party/lib/lib.c && git -C third_party/lib rev-parse --is-inside-work-tree && git status --porcelain')).stdout).toBe(
      'int x;\ntrue\n',
    );
  });

  it('an uninitialized submodule (full_copy) stays an empty gitlink in the guest: status clean, export empty; vm run refuses shallow before booting', async () => {
    const clone = join(dir, 'super-clone');
    await run(['git', 'clone', '-q', join(dir, 'super'), clone]); // the submodule is not checked out
    expect(await g(clone, 'status', '--porcelain')).toBe('');
    const r = await inst.cli(['vm', 'workspace', 'prepare', VM, clone, '--guest-path', '/root/clone', '--mode', 'full_copy']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/skipped third_party\/lib: submodule not initialized on the host/);
    expect((await exec('sh', '-c', 'cd /root/clone && test -d third_party/lib && git status --porcelain && echo clean')).stdout).toBe('clean\n');
    const names = await inst.cli(['vm', 'workspace', 'export', VM, '--name-only']);
    expect([names.code, names.stdout]).toEqual([0, '']);
    const patch = await inst.cli(['vm', 'workspace', 'export', VM]);
    expect([patch.code, patch.stdout]).toEqual([0, '']);

    // The pre-boot check is the daemon's plan: shallow mode's submodule refusal comes before any VM exists.
    const before = json<Array<{ name: string }>>((await inst.cli(['vm', 'list', '--json'])).stdout).length;
    const shallow = await inst.cli(['vm', 'run', clone, '--rm', '--', 'true']);
    expect(shallow.code).toBe(2);
    expect(shallow.stderr).toMatch(/submodules \(third_party\/lib\); .*use --mode full_copy/);
    expect(json<Array<{ name: string }>>((await inst.cli(['vm', 'list', '--json'])).stdout)).toHaveLength(before);
  });

  it('vm run ./repo --rm -- cmd: the command runs in the workspace, its exit code propagates, and the changes are counted before deletion', async () => {
    const before = json<Array<{ name: string }>>((await inst.cli(['vm', 'list', '--json'])).stdout).length;
    const r = await inst.cli(['vm', 'run', host, '--name', 'runner', '--rm', '--', 'sh', '-c', 'pwd; echo more >> README.md; echo x > made.txt; exit 7']);
    expect(r.code, r.stderr).toBe(7);
    expect(r.stdout).toBe('/root/repo\n');
    expect(r.stderr).toMatch(/2 files changed in the guest workspace of runner; --rm deletes them with the VM\. To keep them, run without --rm, or export first/);
    expect(json<Array<{ name: string }>>((await inst.cli(['vm', 'list', '--json'])).stdout)).toHaveLength(before);
    const bad = await inst.cli(['vm', 'run', dir, '--rm', '--', 'true']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not inside a git repository/);
    expect(json<Array<{ name: string }>>((await inst.cli(['vm', 'list', '--json'])).stdout)).toHaveLength(before);
  });

  it('vm stop during a slow import completes without waiting; the prepare fails clearly; the daemon stays up and nothing leaks', async () => {
    const big = join(dir, 'big');
    const files: Record<string, string> = {};
    for (let i = 0; i < 4000; i++) files[`d${i % 40}/f${i}.txt`] = `${'payload '.repeat(3000)}${i}\n`; // ~96 MB: seconds under TCG
    await makeRepo(big, files);
    const bundlesBefore = tmpBundles();
    const p = spawnProcess([process.execPath, join(process.cwd(), 'bin', 'banger'), 'vm', 'workspace', 'prepare', VM, big, '--guest-path', '/root/big'], {
      env: inst.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    const copying = new Promise<void>((resolve) =>
      p.child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        if (/copy/.test(err)) resolve();
      }),
    );
    await copying;
    await new Promise((r) => setTimeout(r, 1500));
    const t0 = Date.now();
    const stop = await inst.cli(['vm', 'stop', VM]);
    const stopMs = Date.now() - t0;
    expect(stop.code, stop.stderr).toBe(0);
    const code = await p.exit;
    expect(code).toBe(5);
    expect(err).toMatch(/VM "ws" was stopped during workspace prepare; nothing was recorded; start it/);
    console.log(`vm stop during an import took ${stopMs} ms`);
    expect((await inst.cli(['daemon', 'status'])).code).toBe(0);
    expect(json<{ workspace: { guestPath: string } }>((await inst.cli(['vm', 'show', VM])).stdout).workspace.guestPath).toBe('/root/clone');
    expect(tmpBundles()).toBe(bundlesBefore);
    expect((await run(['pgrep', '-f', '--', big], { check: false })).stdout.trim()).toBe(''); // no host tar left
    expect(existsSync(big)).toBe(true);
  });
});
