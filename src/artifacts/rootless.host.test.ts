/**
 * Rootless, from nothing: a temporary non-root user (with /etc/subuid and /etc/subgid ranges) runs
 * the built CLI against an isolated install in its own home: `kernel pull`, `image build` of the
 * default image, and `image import --rootfs-tar` of a tar with root-owned, setuid and other users'
 * entries. The ext4s are then read with debugfs: owners and modes must be the real ones, never the
 * user's. Another user without subordinate ids gets the preflight's fix-it error. Needs root (to
 * create the users), mmdebstrap, uidmap, fakeroot and the Debian mirror. The users, their files,
 * processes and subordinate id lines are removed afterwards, also on failure.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, which, type RunResult } from '../host/exec.js';
import { REPO } from '../../test/install.fixture.js';
import { createTempUser, type TempUser } from '../../test/tempuser.fixture.js';
import { packMode } from './image/retar.js';
import { parseSubIds } from './image/rootless.js';

async function skipReason(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'not root (creates users)';
  for (const cmd of ['useradd', 'userdel', 'usermod', 'runuser', 'mmdebstrap', 'fakeroot', 'newuidmap', 'debugfs', 'e2fsck']) {
    if ((await which(cmd)) === null) return `${cmd} is not installed`;
  }
  return null;
}
const reason = await skipReason();
if (reason) console.log(`rootless.host.test skipped: ${reason}`);

const BANGER = join(REPO, 'bin', 'banger');
const suffix = randomBytes(3).toString('hex');
const ranges = async (file: string, u: TempUser) => parseSubIds(await readFile(file, 'utf8').catch(() => ''), u.name, u.uid);

/** The CLI as `u`, with a plain user PATH (no sbin: banger must find mkfs.ext4 itself) and its own XDG directories. */
function cliAs(u: TempUser, base: string) {
  const env = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
    XDG_CONFIG_HOME: `${base}/config`,
    XDG_STATE_HOME: `${base}/state`,
    XDG_CACHE_HOME: `${base}/cache`,
    XDG_RUNTIME_DIR: `${base}/run`,
  };
  return (args: string[], timeoutMs = 1_200_000): Promise<RunResult> => u.run([process.execPath, BANGER, ...args], { env, timeoutMs });
}

const debugfs = async (img: string, cmd: string) => (await run(['debugfs', '-R', cmd, img], { check: false })).stdout;

/** Type, owner, group and permission bits (debugfs shows no type bits in Mode) of a path inside an ext4, from `debugfs stat`. */
async function inode(img: string, path: string): Promise<{ type: string; mode: number; uid: number; gid: number; device?: string }> {
  const out = await debugfs(img, `stat ${path}`);
  const type = /Type: ([a-z ]+?)\s+Mode/.exec(out)?.[1] ?? 'missing';
  return {
    type,
    mode: parseInt(/Mode:\s+(\d+)/.exec(out)?.[1] ?? '-1', 8),
    uid: Number(/User:\s+(\d+)/.exec(out)?.[1] ?? -1),
    gid: Number(/Group:\s+(\d+)/.exec(out)?.[1] ?? -1),
    device: /Device major\/minor number: (\d+:\d+)/.exec(out)?.[1],
  };
}

/** Every uid and gid in a directory listing (`debugfs ls -p`: /ino/mode/uid/gid/name/size/). */
async function owners(img: string, dir: string): Promise<number[]> {
  const out = await debugfs(img, `ls -p ${dir}`);
  return out
    .split('\n')
    .filter((l) => l.startsWith('/'))
    .flatMap((l) => {
      const f = l.split('/');
      return [Number(f[3]), Number(f[4])];
    });
}

async function rootfsTar(): Promise<Buffer> {
  const pack = tar.pack();
  const e = (h: Partial<tar.Header> & { name: string }, body?: string) => pack.entry({ uid: 0, gid: 0, ...h, mode: packMode(h.mode ?? 0o644) }, body);
  e({ name: './', type: 'directory', mode: 0o755 });
  e({ name: './etc/', type: 'directory', mode: 0o755 });
  e({ name: './etc/os-release', type: 'file' }, 'ID=debian\nVERSION_CODENAME=bookworm\n');
  e({ name: './etc/shadow', type: 'file', mode: 0o640, gid: 42 }, 'root:*:19000:0:99999:7:::\n');
  e({ name: './etc/locked', type: 'file', mode: 0o000 }, 'nobody reads me\n');
  e({ name: './var/lib/dpkg/status', type: 'file' }, 'Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b7\n');
  e({ name: './usr/bin/tool', type: 'file', mode: 0o4755 }, '#!/bin/sh\n');
  e({ name: './usr/bin/tool-link', type: 'link', linkname: './usr/bin/tool' });
  e({ name: './usr/bin/wall', type: 'file', mode: 0o2755, gid: 5 }, '#!/bin/sh\n');
  e({ name: './sbin/init', type: 'symlink', linkname: '/usr/bin/tool' });
  e({ name: './root/', type: 'directory', mode: 0o700 });
  e({ name: './tmp/', type: 'directory', mode: 0o1777 });
  e({ name: './home/dev/', type: 'directory', mode: 0o750, uid: 1000, gid: 1000 });
  e({ name: './home/dev/notes', type: 'file', mode: 0o640, uid: 1000, gid: 1000 }, 'mine');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe.skipIf(reason !== null)('rootless from nothing (a real non-root user)', () => {
  let user: TempUser;
  let bare: TempUser | undefined;
  let base: string;
  let cli: ReturnType<typeof cliAs>;
  const times: Record<string, number> = {};

  beforeAll(async () => {
    user = await createTempUser('bgrl');
    base = join(user.home, 'bi');
    await user.run(['mkdir', '-p', base]);
    cli = cliAs(user, base);
  }, 60_000);

  afterAll(async () => {
    if (cli) await cli(['daemon', 'stop'], 60_000).catch(() => undefined);
    await user?.remove();
    await bare?.remove();
    for (const u of [user, bare].filter((x): x is TempUser => x !== undefined)) {
      const left = (await readFile('/etc/subuid', 'utf8')) + (await readFile('/etc/subgid', 'utf8')) + (await readFile('/etc/passwd', 'utf8'));
      if (left.split('\n').some((l) => l.startsWith(`${u.name}:`))) console.error(`rootless.host.test: ${u.name} was not fully removed`);
    }
  }, 120_000);

  it('kernel pull', async () => {
    const t0 = Date.now();
    const r = await cli(['kernel', 'pull']);
    times.kernel = Date.now() - t0;
    // No error line; download lines name packages, and some package names hold the word (libgpg-error0).
    expect(r.stderr.split('\n').filter((l) => !/\] download: /.test(l))).not.toContainEqual(expect.stringMatching(/error/i));
    expect(r.code).toBe(0);
    const list = await cli(['kernel', 'list', '--json']);
    expect(JSON.parse(list.stdout).kernels).toHaveLength(1);
  }, 600_000);

  it('image build of the default image keeps real owners and modes', async () => {
    const t0 = Date.now();
    const r = await cli(['image', 'build', '--variant', 'minimal']);
    times.build = Date.now() - t0;
    expect(r.code, r.stderr).toBe(0);
    const images = JSON.parse((await cli(['image', 'list', '--json'])).stdout) as { images: { name: string; sha256: string; packages: unknown[] }[] };
    expect(images.images.map((i) => i.name)).toEqual(['debian-bookworm']);
    const img = join(base, 'state/banger/images', images.images[0].sha256, 'rootfs.ext4');
    const st = await stat(img);
    expect(st.uid).toBe(user.uid);
    console.log(`rootless: kernel pull ${times.kernel} ms, image build ${times.build} ms; rootfs.ext4 ${st.size} bytes apparent, ${st.blocks * 512} on disk`);

    expect((await run(['e2fsck', '-fn', img], { check: false })).code).toBe(0);
    expect(await inode(img, '/etc/shadow')).toMatchObject({ uid: 0, gid: 42, mode: 0o640 });
    expect(await inode(img, '/usr/bin/su')).toMatchObject({ uid: 0, gid: 0, mode: 0o4755 });
    expect(await inode(img, '/usr/bin/sudo')).toMatchObject({ uid: 0, gid: 0, mode: 0o4755 });
    expect(await inode(img, '/dev/null')).toMatchObject({ type: 'character special', uid: 0, device: '01:03' });
    expect(await inode(img, '/root')).toMatchObject({ uid: 0, gid: 0, mode: 0o700 });
    expect(await inode(img, '/tmp')).toMatchObject({ uid: 0, mode: 0o1777 });
    expect(await inode(img, '/var/cache/apt/archives')).toMatchObject({ uid: 0, gid: 0 });
    expect(await inode(img, '/etc/hostname')).toMatchObject({ uid: 0, gid: 0, mode: 0o644 });
    const release = (await debugfs(img, 'ls /usr/lib/modules')).match(/\S+-cloud-amd64/)?.[0];
    expect(release).toBeDefined();
    expect(await inode(img, `/usr/lib/modules/${release}/modules.dep`)).toMatchObject({ type: 'regular', uid: 0 });
    expect(await inode(img, `/usr/lib/modules/${release}/kernel`)).toMatchObject({ uid: 0, gid: 0 });
    // Nothing anywhere the build touched carries the user's (or a subordinate) id.
    const [sub] = await ranges('/etc/subuid', user);
    for (const dir of ['/', '/etc', '/etc/ssh', '/usr/bin', '/usr/sbin', '/var/lib', `/usr/lib/modules/${release}`]) {
      for (const id of await owners(img, dir)) {
        expect(id === user.uid || (id >= sub.start && id < sub.start + sub.count), `${dir}: id ${id}`).toBe(false);
      }
    }
  }, 1_200_000);

  it('image import --rootfs-tar keeps the tar owners, setuid/setgid bits and modes', async () => {
    // Left by a build that was killed: a staging directory whose bootstrap root (linked, in /tmp)
    // holds files owned by the user's subordinate ids. The next import's cleanup must remove both.
    const staleTmp = `/tmp/banger-mmdebstrap-stale${suffix}`;
    const stale = join(base, 'state/banger/staging', 'image-build-dead0000');
    await run(['runuser', '-u', user.name, '--', 'mkdir', '-p', stale, staleTmp]);
    await run(['chmod', '1777', staleTmp]);
    await run(['runuser', '-u', user.name, '--', 'sh', '-c', 'printf "999999999 1\n" > "$1/owner"; printf "%s\n" "$2" > "$1/linked"', 'sh', stale, staleTmp]);
    await run(['runuser', '-u', user.name, '--', 'env', 'PATH=/usr/bin:/bin:/usr/sbin:/sbin', 'mmdebstrap', '--unshare-helper', 'mkdir', '-p', `${staleTmp}/mmdebstrap.dead/etc`]);
    const [sub] = await ranges('/etc/subuid', user);
    expect((await stat(`${staleTmp}/mmdebstrap.dead/etc`)).uid).toBe(sub.start);

    const file = join(base, 'rootfs.tar');
    await writeFile(file, await rootfsTar());
    await run(['chown', `${user.uid}:${user.gid}`, file]);
    const t0 = Date.now();
    const r = await cli(['image', 'import', 'small', '--rootfs-tar', file, '--size', '64M']);
    expect(r.code, r.stderr).toBe(0);
    const images = JSON.parse((await cli(['image', 'list', '--json'])).stdout) as { images: { name: string; sha256: string }[] };
    const sha = images.images.find((i) => i.name === 'small')!.sha256;
    const img = join(base, 'state/banger/images', sha, 'rootfs.ext4');
    console.log(`rootless: image import ${Date.now() - t0} ms`);
    expect(await inode(img, '/etc/shadow')).toMatchObject({ uid: 0, gid: 42, mode: 0o640 });
    expect(await inode(img, '/etc/locked')).toMatchObject({ uid: 0, mode: 0o000 });
    expect(await inode(img, '/usr/bin/tool')).toMatchObject({ uid: 0, gid: 0, mode: 0o4755 });
    expect(await inode(img, '/usr/bin/wall')).toMatchObject({ uid: 0, gid: 5, mode: 0o2755 });
    expect((await debugfs(img, 'stat /usr/bin/tool-link')).match(/Links: (\d+)/)?.[1]).toBe('2');
    expect(await inode(img, '/sbin/init')).toMatchObject({ type: 'symlink', uid: 0 });
    expect(await inode(img, '/root')).toMatchObject({ uid: 0, mode: 0o700 });
    expect(await inode(img, '/tmp')).toMatchObject({ uid: 0, mode: 0o1777 });
    expect(await inode(img, '/home/dev')).toMatchObject({ uid: 1000, gid: 1000, mode: 0o750 });
    expect(await inode(img, '/home/dev/notes')).toMatchObject({ uid: 1000, gid: 1000, mode: 0o640 });
    await expect(stat(stale)).rejects.toThrow(/ENOENT/);
    await expect(stat(staleTmp)).rejects.toThrow(/ENOENT/);
  }, 300_000);

  it('leaves no staging and no temporary bootstrap root behind', async () => {
    const staging = await readdir(join(base, 'state/banger/staging')).catch(() => [] as string[]);
    expect(staging).toEqual([]);
    const tmp = [];
    for (const n of (await readdir('/tmp')).filter((x) => x.startsWith('banger-mmdebstrap-'))) {
      if ((await stat(join('/tmp', n))).uid === user.uid) tmp.push(n);
    }
    expect(tmp).toEqual([]);
  });

  it('a user without subordinate ids is told how to get them', async () => {
    bare = await createTempUser('bgrn', { subIds: false });
    const script = `import(${JSON.stringify(join(REPO, 'dist/artifacts/image/rootless.js'))}).then((m) => m.checkRootless('build')).then(() => console.log('ok'), (e) => { console.log(e.message); process.exit(3); })`;
    const r = await bare.run([process.execPath, '-e', script], { env: { PATH: '/usr/local/bin:/usr/bin:/bin' } });
    expect(r.code).toBe(3);
    expect(r.stdout).toContain(`sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${bare.name}`);
  }, 60_000);
});
