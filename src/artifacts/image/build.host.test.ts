/**
 * Builds the real default image (mmdebstrap from the Debian mirror) and checks the ext4 with
 * debugfs. Needs root and mmdebstrap; the kernel's modules come from the Debian cloud kernel
 * package, downloaded and unpacked here (never installed).
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, which } from '../../host/exec.js';
import { resolvePaths, type Paths } from '../../store/paths.js';
import { privateApt } from '../apt/apt.js';
import { extractDeb, fetchDeb, resolveKernelPackage } from '../kernel/debian.js';
import { buildImage } from './build.js';
import { sha256File } from '../digest.js';
import type { PublishedImage } from './store.js';

async function skipReason(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'not root';
  for (const cmd of ['mmdebstrap', 'debugfs', 'apt-get', 'dpkg-deb']) if ((await which(cmd)) === null) return `${cmd} is not installed`;
  return null;
}
const reason = await skipReason();
if (reason) console.log(`build.host.test skipped: ${reason}`);

/** Downloads (banger's private apt) and unpacks the Debian cloud kernel package; returns its /lib/modules/<release>. */
async function kernelModules(dir: string): Promise<string> {
  const apt = privateApt({ dir: join(dir, 'apt') });
  const pkg = await resolveKernelPackage(apt, 'linux-image-cloud-amd64');
  const deb = await fetchDeb(apt, pkg, join(dir, 'debs'));
  await extractDeb(deb.path, join(dir, 'x'));
  const releases = await readdir(join(dir, 'x/lib/modules'));
  expect(releases).toHaveLength(1);
  return join(dir, 'x/lib/modules', releases[0]);
}

const debugfs = async (img: string, cmd: string) => {
  const r = await run(['debugfs', '-R', cmd, img], { check: false });
  return { out: r.stdout, err: r.stderr };
};

// The minimal variant (what the suite's golden install boots); the default (rich) image is checked on a guest in cli/devimage.vm.test.ts.
describe.skipIf(reason !== null)('buildImage: the real image (minimal variant)', () => {
  let base: string;
  let paths: Paths;
  let release: string;
  let built: PublishedImage;
  let img: string;

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'banger-build-'));
    paths = resolvePaths({ HOME: base, XDG_STATE_HOME: join(base, 'state'), XDG_CACHE_HOME: join(base, 'cache'), XDG_RUNTIME_DIR: join(base, 'run') });
    const kdir = join(base, 'kernel');
    await run(['mkdir', '-p', kdir]);
    const modulesDir = await kernelModules(kdir);
    release = modulesDir.split('/').pop()!;

    const t0 = Date.now();
    const stages = new Map<string, number>();
    built = await buildImage({ paths, variant: 'minimal', modulesDir, kernelRef: 'debian-cloud', progress: (s) => void (stages.has(s) || stages.set(s, Date.now() - t0)) });
    const totalMs = Date.now() - t0;
    img = built.dir + '/rootfs.ext4';
    const st = await stat(img);
    console.log(
      `default image built in ${(totalMs / 1000).toFixed(1)} s (stage start times: ${[...stages].map(([s, ms]) => `${s} ${(ms / 1000).toFixed(1)}s`).join(', ')}); ` +
        `rootfs.ext4 ${st.size} bytes apparent, ${st.blocks * 512} bytes on disk; ${built.manifest.packages.length} packages`,
    );
  }, 900_000);

  afterAll(async () => {
    if (base) await rm(base, { recursive: true, force: true });
  });

  it('records a manifest matching the file', async () => {
    expect(built.manifest).toMatchObject({ name: 'debian-bookworm', distro: 'debian-bookworm', kernelRef: 'debian-cloud', source: 'build', sizeBytes: 4 * 1024 ** 3 });
    expect(await sha256File(img)).toBe(built.manifest.sha256);
    expect(built.dir).toBe(paths.imageDir(built.manifest.sha256));
    const names = built.manifest.packages.map((p) => p.name);
    for (const p of ['openssh-server', 'systemd-sysv', 'udev', 'dbus', 'build-essential', 'git', 'tmux', 'jq', 'sudo']) expect(names).toContain(p);
  });

  it('is a clean ext4 file system', async () => {
    const r = await run(['e2fsck', '-fn', img], { check: false });
    expect(r.code).toBe(0);
  });

  it('has sshd, the host key service and its config, and no host keys', async () => {
    expect((await debugfs(img, 'stat /usr/sbin/sshd')).out).toMatch(/Type: regular/);
    const ssh = (await debugfs(img, 'ls -l /etc/ssh')).out;
    expect(ssh).toContain('sshd_config.d');
    expect(ssh).not.toMatch(/ssh_host_/);
    expect((await debugfs(img, 'cat /etc/ssh/sshd_config.d/banger.conf')).out).toMatch(/PasswordAuthentication no/);
    expect((await debugfs(img, 'cat /etc/systemd/system/banger-hostkeys.service')).out).toMatch(/ExecStart=\/usr\/local\/sbin\/banger-hostkey/);
    expect((await debugfs(img, 'cat /usr/local/sbin/banger-hostkey')).out).toMatch(/ssh-keygen -q -t ed25519/);
    expect((await debugfs(img, 'stat /etc/systemd/system/multi-user.target.wants/banger-hostkeys.service')).out).toMatch(/Type: symlink/);
  });

  it('bakes in no key, machine id or host name', async () => {
    expect((await debugfs(img, 'stat /root/.ssh/authorized_keys')).err).toMatch(/File not found/);
    const mid = await debugfs(img, 'stat /etc/machine-id');
    expect(mid.out).toMatch(/Size: 0\b/);
    expect((await debugfs(img, 'cat /etc/hostname')).out).toBe('localhost\n');
    expect((await debugfs(img, 'cat /etc/resolv.conf')).out).toBe('');
  });

  it('has the kernel modules indexed by depmod', async () => {
    expect((await debugfs(img, `stat /usr/lib/modules/${release}/modules.dep`)).out).toMatch(/Type: regular/);
    expect((await debugfs(img, `cat /usr/lib/modules/${release}/modules.dep`)).out).toMatch(/virtio_net\.ko/);
  });

  it('masks the background timers and keeps no .debs inside', async () => {
    for (const t of ['apt-daily.timer', 'apt-daily-upgrade.timer', 'dpkg-db-backup.timer', 'e2scrub_all.timer', 'fstrim.timer']) {
      expect((await debugfs(img, `stat /etc/systemd/system/${t}`)).out).toMatch(/Fast link dest: "\/dev\/null"/);
    }
    expect((await debugfs(img, 'ls /var/cache/apt/archives')).out).not.toMatch(/\.deb/);
  });

  it('a failed build registers nothing and leaves no staging', async () => {
    const before = await readdir(paths.imagesDir);
    // A mirror nobody listens on (127.0.0.1 only): mmdebstrap fails after staging was made and seeded.
    const source = { mirror: 'http://127.0.0.1:9/debian', securityMirror: 'http://127.0.0.1:9/debian-security' };
    const err = await buildImage({ paths, name: 'broken', variant: 'minimal', source }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/mmdebstrap failed/);
    expect(await readdir(paths.imagesDir)).toEqual(before);
    expect((await readdir(paths.stagingDir)).filter((n) => n.startsWith('image-'))).toEqual([]);
  });

  it('keeps the .debs in the cache for the next build and leaves no staging', async () => {
    const cached = await readdir(paths.aptArchiveCacheDir);
    expect(cached.filter((n) => n.endsWith('.deb')).length).toBe(built.manifest.packages.length);
    expect((await readdir(paths.stagingDir)).filter((n) => n.startsWith('image-'))).toEqual([]);
  });
});
