/**
 * Issue 14, item 4, on a glibc root banger did not build: Debian minbase (perl, no init, no sshd,
 * no git) from mmdebstrap, imported as a rootfs tar. Its first VM builds the image's warm snapshot
 * and is restored from it, so the identity step runs its perl path on a root whose host key lives
 * in /.banger/state; banger's git serves where the image has none; the image's files stay as they were.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, which } from '../host/exec.js';
import { freshInstall, type Install } from '../../test/install.fixture.js';

let inst: Install | undefined;
let tarPath = '';

/** Debian bookworm minbase as a tar, cached across runs (mmdebstrap takes ~2 min). */
async function minbaseTar(): Promise<string> {
  const dir = process.env.BANGER_TEST_CACHE ?? '/var/tmp/banger-test-cache';
  const out = join(dir, 'debian-minbase-bookworm-nodev.tar');
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const tmp = `${out}.${process.pid}`;
  // No device nodes in /dev: `image import` refuses them (the guest's /dev is a devtmpfs anyway).
  await run(['mmdebstrap', '--variant=minbase', '--format=tar', '--skip=output/dev', 'bookworm', tmp, 'http://deb.debian.org/debian'], { timeoutMs: 900_000 });
  renameSync(tmp, out);
  return out;
}

const fileOf = async (path: string) => (await run(['tar', '-xOf', tarPath, `./${path}`])).stdoutBytes;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  if (!(await which('mmdebstrap'))) return;
  tarPath = await minbaseTar();
  inst = await freshInstall();
  const r = await inst.cli(['image', 'import', 'deb', '--rootfs-tar', tarPath], { timeoutMs: 900_000 });
  if (r.code !== 0) throw new Error(`import failed: ${r.stderr}`);
}, 1_800_000);

afterAll(async () => {
  await inst?.destroy();
});

describe('a Debian root without systemd or openssh-server', () => {
  it('boots with banger\'s init and sshd, restored from its own warm snapshot with a fresh identity', async (ctx) => {
    if (!inst) return ctx.skip();
    const c = await inst.cli(['vm', 'create', '--name', 'd1', '--image', 'deb'], { timeoutMs: 900_000 });
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toMatch(/building warm:deb/);
    const ex = (argv: string[]) => inst!.cli(['vm', 'exec', 'd1', '--', ...argv], { timeoutMs: 120_000 });

    const os = await ex(['cat', '/etc/os-release']);
    expect(os.code, os.stderr).toBe(0);
    expect(os.stdout).toMatch(/^ID=debian$/m);
    expect((await ex(['hostname'])).stdout).toBe('d1\n');
    // The image has no git: banger's serves (workspaces need it).
    expect((await ex(['sh', '-c', 'command -v git; git --version'])).stdout).toMatch(/^\/\.banger\/tools\/bin\/git\ngit version /);
    // The restored clone's host key (perl identity path) went to /.banger/state and is the pinned one.
    const key = await ex(['cat', '/.banger/state/ssh_host_ed25519_key.pub']);
    expect(key.code, key.stderr).toBe(0);
    const known = readFileSync(join(inst.stateDir, 'ssh', 'known_hosts'), 'utf8');
    expect(known).toContain(key.stdout.trim().split(' ').slice(0, 2).join(' '));
    expect((await ex(['test', '-e', '/etc/ssh/ssh_host_ed25519_key'])).code).toBe(1);

    const files = ['usr/lib/os-release', 'etc/passwd', 'etc/shadow', 'usr/bin/perl'];
    const sums = await ex(['sha256sum', ...files.map((f) => `/${f}`)]);
    expect(sums.code, sums.stderr).toBe(0);
    const got = Object.fromEntries(sums.stdout.trim().split('\n').map((l) => l.split(/\s+/).reverse()));
    const want = Object.fromEntries(await Promise.all(files.map(async (f) => [`/${f}`, sha(await fileOf(f))])));
    expect(got).toEqual(want);
  }, 1_200_000);

  it('the default image still boots its own systemd and sshd (the guest tools stay in the initramfs)', async (ctx) => {
    if (!inst) return ctx.skip();
    const r = await inst.cli(['vm', 'run', '--rm', '--cold', '--name', 'plain', '--', 'sh', '-c', 'test -e /.banger || echo no-banger; cat /proc/1/comm'], {
      timeoutMs: 900_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('no-banger\nsystemd\n');
  }, 900_000);
});
