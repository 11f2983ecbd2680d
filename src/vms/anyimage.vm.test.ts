/**
 * Issue 14, items 4 and 5: an image with no init, no sshd, no libc and no shell but busybox boots
 * with banger's own init and sshd (guest tools from the initramfs); `vm exec` honours the image's
 * Env and WorkingDir; workspaces work; `vm run --image X` with no command runs its Entrypoint+Cmd
 * and exits with its status; the first VM of the image builds its warm snapshot and the next
 * restores it (the identity step then runs on a root with no perl and no /etc/ssh); the image's
 * own files are left as they were. One install, one image, VMs shared across the tests.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRepo } from '../../test/gitrepo.fixture.js';
import { freshInstall, type Install } from '../../test/install.fixture.js';

const RUNTIME = {
  env: ['PATH=/usr/local/bin:/bin:/sbin', 'GREETING=hello from the image', 'FOO=bar'],
  workingDir: '/data',
  user: null,
  entrypoint: ['/usr/local/bin/entry'],
  cmd: ['first-arg'],
};
const ENTRY = '#!/bin/sh\necho "entry $1 $FOO $(pwd)"\nexit 7\n';
const OS_RELEASE = 'NAME="banger busybox test"\nID=bbtest\n';
const PASSWD = 'root:x:0:0:root:/root:/bin/sh\n';
const HELLO = 'hello, image\n';

let inst: Install;
let work: string;
let busybox: Buffer;

/** A busybox-static-only root: no libc, no init of its own but busybox's, no sshd, no perl. */
async function busyboxRootTar(): Promise<Buffer> {
  const pack = tar.pack();
  const dir = (name: string) => pack.entry({ name, type: 'directory', mode: 0o755, uid: 0, gid: 0 });
  const file = (name: string, body: string | Buffer, mode = 0o644) => pack.entry({ name, type: 'file', mode, uid: 0, gid: 0 }, body);
  const link = (name: string, target: string) => pack.entry({ name, type: 'symlink', linkname: target, uid: 0, gid: 0 });
  for (const d of ['bin', 'sbin', 'etc', 'data', 'usr', 'usr/local', 'usr/local/bin']) dir(d);
  file('bin/busybox', busybox, 0o755);
  for (const a of ['sh', 'cat', 'env', 'pwd', 'ls', 'echo', 'sha256sum', 'hostname', 'id', 'mkdir', 'sleep']) link(`bin/${a}`, 'busybox');
  link('sbin/init', '../bin/busybox');
  file('etc/os-release', OS_RELEASE);
  file('etc/passwd', PASSWD);
  file('data/hello.txt', HELLO);
  file('usr/local/bin/entry', ENTRY, 0o755);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

async function exec(vm: string, argv: string[]) {
  return inst.cli(['vm', 'exec', vm, '--', ...argv], { timeoutMs: 120_000 });
}

beforeAll(async () => {
  inst = await freshInstall();
  work = await mkdtemp(join(tmpdir(), 'banger-anyimage-'));
  busybox = await readFile('/bin/busybox');
  const r = await inst.cli(['image', 'import', 'bbox', '--rootfs-tar', '-', '--size', '256M', '--runtime-json', JSON.stringify(RUNTIME)], {
    input: await busyboxRootTar(),
  });
  if (r.code !== 0) throw new Error(`import failed: ${r.stderr}`);
}, 1_800_000);

afterAll(async () => {
  await inst?.destroy();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('an image with no init, no sshd and no libc boots with banger\'s own', () => {
  it('boots cold; exec runs with the image\'s Env and WorkingDir; exit codes pass through', async () => {
    const t0 = Date.now();
    const c = await inst.cli(['vm', 'create', '--name', 'bb', '--image', 'bbox', '--cold'], { timeoutMs: 600_000 });
    expect(c.code, c.stderr).toBe(0);
    const first = await exec('bb', ['cat', '/etc/os-release']);
    // Figure for the closing note (not asserted): spawn to the first exec's answer.
    console.log(`busybox image: vm create --cold + first exec ${Date.now() - t0} ms`);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe(OS_RELEASE);

    const env = await exec('bb', ['env']);
    expect(env.stdout).toMatch(/^GREETING=hello from the image$/m);
    expect(env.stdout).toMatch(/^FOO=bar$/m);
    expect((await exec('bb', ['pwd'])).stdout).toBe('/data\n');
    expect((await exec('bb', ['sh', '-c', 'exit 3'])).code).toBe(3);
    expect((await exec('bb', ['hostname'])).stdout).toBe('bb\n');
  }, 900_000);

  it("leaves the image's own files as they were", async () => {
    const r = await exec('bb', ['sha256sum', '/bin/busybox', '/etc/os-release', '/etc/passwd', '/data/hello.txt', '/usr/local/bin/entry']);
    expect(r.code, r.stderr).toBe(0);
    const got = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(/\s+/).reverse()));
    expect(got).toEqual({
      '/bin/busybox': sha(busybox),
      '/etc/os-release': sha(OS_RELEASE),
      '/etc/passwd': sha(PASSWD),
      '/data/hello.txt': sha(HELLO),
      '/usr/local/bin/entry': sha(ENTRY),
    });
    // banger's additions are on a tmpfs of their own, not in the image's directories.
    const m = await exec('bb', ['cat', '/proc/mounts']);
    expect(m.stdout).toMatch(/^banger-tools \/\.banger\/tools tmpfs /m);
    expect((await exec('bb', ['ls', '/usr/local/bin', '/bin/sshd', '/usr/sbin/sshd'])).stdout).not.toContain('sshd');
  }, 300_000);

  it('prepares a workspace and exports the guest\'s change', async () => {
    const repo = join(work, 'repo');
    await makeRepo(repo, { 'README.md': 'one\n', 'src/a.txt': 'a\n' });
    const p = await inst.cli(['vm', 'workspace', 'prepare', 'bb', repo], { timeoutMs: 300_000 });
    expect(p.code, p.stderr).toBe(0);
    const edit = await inst.cli(['vm', 'exec', 'bb', '--', 'sh', '-c', 'echo two >> README.md && echo new > b.txt'], { timeoutMs: 120_000 });
    expect(edit.code, edit.stderr).toBe(0);
    const x = await inst.cli(['vm', 'workspace', 'export', 'bb'], { timeoutMs: 300_000 });
    expect(x.code, x.stderr).toBe(0);
    expect(x.stdout).toContain('+two');
    expect(x.stdout).toContain('b/b.txt');
  }, 900_000);

  it('vm run --image with no command runs Entrypoint+Cmd and exits with its status; the first VM builds the warm snapshot, the next restores it', async () => {
    const t0 = Date.now();
    const first = await inst.cli(['vm', 'run', '--rm', '--name', 'r1', '--image', 'bbox'], { timeoutMs: 900_000 });
    const firstMs = Date.now() - t0;
    expect(first.code, first.stderr).toBe(7);
    expect(first.stdout).toBe('entry first-arg bar /data\n');
    expect(first.stderr).toMatch(/building warm:bbox/);

    const t1 = Date.now();
    const second = await inst.cli(['vm', 'run', '--name', 'r2', '--image', 'bbox', '--', 'sh', '-c', 'hostname; cat /etc/hostname; echo $FOO'], { timeoutMs: 600_000 });
    console.log(`busybox image: vm run building warm:bbox ${firstMs} ms; vm run restoring it ${Date.now() - t1} ms`);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/restoring/);
    expect(second.stderr).not.toMatch(/building warm:bbox/);
    // The identity step ran (shell version: no perl here): the restored clone is r2, not the template.
    expect(second.stdout).toBe('r2\nr2\nbar\n');
    const snaps = await inst.cli(['snapshot', 'list', '--json']);
    expect(snaps.stdout).toContain('warm:bbox');
    // A fresh host key was written where banger's sshd reads it, and the pinned key matches it.
    const key = await exec('r2', ['cat', '/.banger/state/ssh_host_ed25519_key.pub']);
    expect(key.code).toBe(0);
    const known = await readFile(join(inst.stateDir, 'ssh', 'known_hosts'), 'utf8');
    expect(known).toContain(key.stdout.trim().split(' ').slice(0, 2).join(' '));
  }, 1_200_000);
});
