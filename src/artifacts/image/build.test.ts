import { describe, expect, it } from 'vitest';
import { aptSourceLines, DEFAULT_DEBIAN_SOURCE, mmdebstrapArgv, packageSet, type MmdebstrapPlan } from './build.js';
import { DEFAULT_PACKAGES } from './guestfiles.js';

describe('packageSet', () => {
  it('adds --include to the default set without duplicates', () => {
    expect(packageSet(['python3', 'curl'])).toEqual([...DEFAULT_PACKAGES, 'python3']);
  });
  it('the default variant is the rich set; minimal is DEFAULT_PACKAGES', () => {
    expect(packageSet([], 'minimal')).toEqual([...DEFAULT_PACKAGES]);
    expect(packageSet([], 'default')).toEqual(expect.arrayContaining([...DEFAULT_PACKAGES, 'docker.io', 'python3-venv', 'nodejs', 'npm']));
    expect(packageSet(['docker.io'], 'default').filter((p) => p === 'docker.io')).toHaveLength(1);
  });
  it('refuses a package name that is not one', () => {
    expect(() => packageSet(['curl,evil'])).toThrow(/--include "curl,evil"/);
    expect(() => packageSet(['--foo'])).toThrow(/--include/);
  });
});

const plan = (over: Partial<MmdebstrapPlan> = {}): MmdebstrapPlan => ({
  output: '/s/bootstrap.tar',
  packages: ['systemd-sysv', 'curl'],
  source: DEFAULT_DEBIAN_SOURCE,
  rootless: false,
  aptCacheIn: '/c/apt archives',
  aptCacheOut: '/s/debs',
  modulesDir: '/k/modules/6.1.0-57-cloud-amd64',
  ...over,
});

describe('mmdebstrapArgv', () => {
  it('as root: minbase as a tar, inside a private mount namespace, with the Debian keyring', () => {
    const argv = mmdebstrapArgv(plan());
    expect(argv.slice(0, 6)).toEqual(['unshare', '--mount', '--propagation', 'private', 'mmdebstrap', '--mode=root']);
    expect(argv).toEqual(expect.arrayContaining(['--variant=minbase', '--format=tar', '--include=systemd-sysv,curl', '--skip=essential/unlink']));
    expect(argv).toContain('--keyring=/usr/share/keyrings/debian-archive-keyring.gpg');
    expect(argv.slice(-5)).toEqual(['bookworm', '/s/bootstrap.tar', ...aptSourceLines(DEFAULT_DEBIAN_SOURCE)]);
  });

  it('rootless: unshare mode, no outer unshare, the same hooks', () => {
    const root = mmdebstrapArgv(plan());
    const rootless = mmdebstrapArgv(plan({ rootless: true }));
    expect(rootless.slice(0, 2)).toEqual(['mmdebstrap', '--mode=unshare']);
    expect(rootless.filter((a) => a.includes('-hook='))).toEqual(root.filter((a) => a.includes('-hook=')));
  });

  it.each([
    ['--setup-hook=mkdir -p "$1"/var/cache/apt/archives/'],
    ["--setup-hook=sync-in '/c/apt archives' /var/cache/apt/archives/"],
    ['--customize-hook=sync-out /var/cache/apt/archives /s/debs'],
    ['--customize-hook=copy-in /k/modules/6.1.0-57-cloud-amd64 /lib/modules/'],
    ['--customize-hook=chown -R 0:0 "$1"/lib/modules/6.1.0-57-cloud-amd64 && chroot "$1" /sbin/depmod -a 6.1.0-57-cloud-amd64'],
  ])('hook %s (paths quoted)', (hook) => {
    expect(mmdebstrapArgv(plan())).toContain(hook);
  });

  it('copies binaries in as root-owned executables (quoted), and refuses a renaming guest path', () => {
    const argv = mmdebstrapArgv(plan({ binaries: [{ host: '/c/tools/mise 1/mise', guest: '/usr/local/bin/mise' }] }));
    expect(argv).toContain('--customize-hook=mkdir -p "$1"/usr/local/bin');
    expect(argv).toContain("--customize-hook=copy-in '/c/tools/mise 1/mise' /usr/local/bin");
    expect(argv).toContain('--customize-hook=chown 0:0 "$1"/usr/local/bin/mise && chmod 0755 "$1"/usr/local/bin/mise');
    expect(() => mmdebstrapArgv(plan({ binaries: [{ host: '/c/mise', guest: '/usr/local/bin/other' }] }))).toThrow(/keep the file name/);
    expect(() => mmdebstrapArgv(plan({ binaries: [{ host: '/c/mise', guest: 'usr/mise' }] }))).toThrow(/absolute/);
  });

  it('no module hooks without a kernel', () => {
    expect(mmdebstrapArgv(plan({ modulesDir: null })).filter((a) => /modules/.test(a))).toEqual([]);
  });

  it('refuses a release name that is not plain', () => {
    expect(() => mmdebstrapArgv(plan({ modulesDir: '/k/modules/6.1;rm -rf' }))).toThrow(/not a plain name/);
  });

  it('uses updates and security suites of the chosen mirror', () => {
    expect(aptSourceLines({ suite: 'trixie', mirror: 'http://m/debian', securityMirror: 'http://m/sec' })).toEqual([
      'deb http://m/debian trixie main',
      'deb http://m/debian trixie-updates main',
      'deb http://m/sec trixie-security main',
    ]);
  });
});
