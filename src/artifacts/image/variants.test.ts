import { describe, expect, it } from 'vitest';
import { guestCustomisation } from './guestfiles.js';
import { DOCKER_CHECK, DOCKER_MODULES, RICH_PACKAGES, variantCustomisation, variantPackages } from './variants.js';

describe('image variants', () => {
  it('default has what the issue lists; minimal stays the small set', () => {
    for (const p of ['docker.io', 'apparmor', 'python3', 'python3-venv', 'python3-pip', 'nodejs', 'npm', 'tmux', 'vim-tiny', 'rsync', 'unzip', 'zstd', 'xz-utils', 'iputils-ping', 'dnsutils', 'procps', 'less', 'ca-certificates', 'build-essential']) {
      expect(variantPackages('default')).toContain(p);
    }
    expect(variantPackages('minimal')).not.toContain('docker.io');
    expect(new Set(variantPackages('default')).size).toBe(variantPackages('default').length);
    expect(RICH_PACKAGES.length).toBeGreaterThan(10);
  });

  it('minimal is exactly the base customisation', () => {
    expect(variantCustomisation('minimal')).toEqual(guestCustomisation());
  });

  it('default loads the Docker modules at boot, checks them, and starts dockerd through its socket', () => {
    const c = variantCustomisation('default');
    const file = (p: string) => c.files.find((f) => f.path === p);
    expect(file('etc/modules-load.d/banger-docker.conf')!.content.split('\n')).toEqual(expect.arrayContaining(['overlay', 'br_netfilter', 'veth', 'nf_tables']));
    const check = file(DOCKER_CHECK)!;
    expect(check.mode).toBe(0o755);
    for (const m of DOCKER_MODULES) expect(check.content).toContain(m);
    expect(check.content).toMatch(/cgroup\.controllers/);
    expect(file('etc/systemd/system/docker.service.d/banger-check.conf')!.content).toMatch(/^ExecStartPre=-\/usr\/local\/sbin\/banger-docker-check$/m);
    expect(c.remove).toContain('etc/systemd/system/multi-user.target.wants/docker.service');
    expect(file('etc/profile.d/banger-mise.sh')!.content).toMatch(/mise activate bash/);
  });
});
