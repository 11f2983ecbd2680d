import { lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyCustomisation, aptSourceLines, DEFAULT_DEBIAN_SOURCE, mmdebstrapArgv, packageSet } from './build.js';
import { DEFAULT_PACKAGES, guestCustomisation } from './guestfiles.js';

describe('packageSet', () => {
  it('adds --include to the default set without duplicates', () => {
    expect(packageSet(['python3', 'curl'])).toEqual([...DEFAULT_PACKAGES, 'python3']);
  });
  it('refuses a package name that is not one', () => {
    expect(() => packageSet(['curl,evil'])).toThrow(/--include "curl,evil"/);
    expect(() => packageSet(['--foo'])).toThrow(/--include/);
  });
});

describe('mmdebstrapArgv', () => {
  it('bootstraps minbase into the root inside a private mount namespace, keeping the .debs', () => {
    const argv = mmdebstrapArgv('/s/root', ['systemd-sysv', 'curl'], DEFAULT_DEBIAN_SOURCE);
    expect(argv.slice(0, 5)).toEqual(['unshare', '--mount', '--propagation', 'private', 'mmdebstrap']);
    expect(argv).toContain('--variant=minbase');
    expect(argv).toContain('--include=systemd-sysv,curl');
    expect(argv).toEqual(expect.arrayContaining(['--skip=essential/unlink', '--skip=cleanup/apt/cache', '--skip=check/empty']));
    expect(argv.slice(-5)).toEqual(['bookworm', '/s/root', ...aptSourceLines(DEFAULT_DEBIAN_SOURCE)]);
  });
  it('uses updates and security suites of the chosen mirror', () => {
    expect(aptSourceLines({ suite: 'trixie', mirror: 'http://m/debian', securityMirror: 'http://m/sec' })).toEqual([
      'deb http://m/debian trixie main',
      'deb http://m/debian trixie-updates main',
      'deb http://m/sec trixie-security main',
    ]);
  });
});

describe('applyCustomisation', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'banger-custom-'));
    // What a bootstrap leaves behind: host keys, the builder's hostname, enabled timers, cached .debs.
    await mkdir(join(root, 'etc/ssh'), { recursive: true });
    await writeFile(join(root, 'etc/ssh/ssh_host_rsa_key'), 'secret');
    await writeFile(join(root, 'etc/ssh/ssh_host_ed25519_key.pub'), 'pub');
    await writeFile(join(root, 'etc/ssh/sshd_config'), 'Include /etc/ssh/sshd_config.d/*.conf\n');
    await writeFile(join(root, 'etc/hostname'), 'build-host\n');
    await writeFile(join(root, 'etc/machine-id'), '0123456789abcdef0123456789abcdef\n');
    await mkdir(join(root, 'etc/systemd/system/timers.target.wants'), { recursive: true });
    await writeFile(join(root, 'etc/systemd/system/timers.target.wants/apt-daily.timer'), '');
    await mkdir(join(root, 'var/cache/apt/archives/partial'), { recursive: true });
    await writeFile(join(root, 'var/cache/apt/archives/curl_1_amd64.deb'), 'deb');
    await writeFile(join(root, 'var/cache/apt/pkgcache.bin'), 'bin');
    await applyCustomisation(root, guestCustomisation());
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('writes the files with their modes', async () => {
    expect(await readFile(join(root, 'etc/hostname'), 'utf8')).toBe('localhost\n');
    expect(await readFile(join(root, 'etc/machine-id'), 'utf8')).toBe('');
    expect((await stat(join(root, 'etc/machine-id'))).mode & 0o777).toBe(0o444);
    expect(await readFile(join(root, 'etc/ssh/sshd_config.d/banger.conf'), 'utf8')).toMatch(/PasswordAuthentication no/);
  });

  it('removes host keys, the timer wants link, cached .debs and apt caches', async () => {
    await expect(lstat(join(root, 'etc/ssh/ssh_host_rsa_key'))).rejects.toThrow(/ENOENT/);
    await expect(lstat(join(root, 'etc/ssh/ssh_host_ed25519_key.pub'))).rejects.toThrow(/ENOENT/);
    await expect(lstat(join(root, 'etc/systemd/system/timers.target.wants/apt-daily.timer'))).rejects.toThrow(/ENOENT/);
    await expect(lstat(join(root, 'var/cache/apt/archives/curl_1_amd64.deb'))).rejects.toThrow(/ENOENT/);
    await expect(lstat(join(root, 'var/cache/apt/pkgcache.bin'))).rejects.toThrow(/ENOENT/);
    expect((await lstat(join(root, 'var/cache/apt/archives/partial'))).isDirectory()).toBe(true);
    expect((await lstat(join(root, 'etc/ssh/sshd_config'))).isFile()).toBe(true);
  });

  it('masks units and enables the host key unit with symlinks', async () => {
    expect(await readlink(join(root, 'etc/systemd/system/apt-daily.timer'))).toBe('/dev/null');
    expect(await readlink(join(root, 'etc/systemd/system/multi-user.target.wants/banger-hostkeys.service'))).toBe('/etc/systemd/system/banger-hostkeys.service');
  });

  it('is idempotent', async () => {
    await applyCustomisation(root, guestCustomisation());
    expect(await readlink(join(root, 'etc/systemd/system/fstrim.timer'))).toBe('/dev/null');
  });
});
