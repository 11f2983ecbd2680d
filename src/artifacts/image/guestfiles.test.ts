import { describe, expect, it } from 'vitest';
import { DEFAULT_PACKAGES, guestCustomisation, HOSTKEY_UNIT, MASKED_UNITS } from './guestfiles.js';

describe('guest customisation', () => {
  const plan = guestCustomisation();
  const file = (p: string) => plan.files.find((f) => f.path === p);

  it('installs what the issue and the boot contract need', () => {
    expect(DEFAULT_PACKAGES).toEqual(
      expect.arrayContaining(['systemd-sysv', 'udev', 'openssh-server', 'dbus', 'git', 'curl', 'ca-certificates', 'jq', 'less', 'tmux', 'procps', 'iproute2', 'sudo', 'kmod', 'build-essential']),
    );
  });

  it('generates the host key at boot before sshd unless a readable one exists (a torn key from a crash is replaced), and enables that', () => {
    const unit = file(`etc/systemd/system/${HOSTKEY_UNIT}`)!.content;
    expect(unit).toMatch(/^Before=ssh\.service$/m);
    expect(unit).toMatch(/^ExecStart=\/usr\/local\/sbin\/banger-hostkey$/m);
    const script = file('usr/local/sbin/banger-hostkey')!;
    expect(script.mode).toBe(0o755);
    expect(script.content).toMatch(/ssh-keygen -y -f "\$k" >\/dev\/null 2>&1 && exit 0\nrm -f "\$k" "\$k.pub"\nssh-keygen -q -t ed25519 -N "" -f "\$k"\nsync/);
    expect(plan.links).toContainEqual({ path: `etc/systemd/system/multi-user.target.wants/${HOSTKEY_UNIT}`, target: `/etc/systemd/system/${HOSTKEY_UNIT}` });
  });

  it('configures sshd for keys only and removes baked host keys', () => {
    const conf = file('etc/ssh/sshd_config.d/banger.conf')!.content;
    expect(conf).toMatch(/^PasswordAuthentication no$/m);
    expect(conf).toMatch(/^PermitRootLogin prohibit-password$/m);
    expect(conf).toMatch(/^HostKey \/etc\/ssh\/ssh_host_ed25519_key$/m);
    expect(conf).toMatch(/^UseDNS no$/m);
    const hostKeys = plan.removeMatching.find((r) => r.dir === 'etc/ssh')!;
    expect(['ssh_host_rsa_key', 'ssh_host_ed25519_key.pub'].every((n) => hostKeys.pattern.test(n))).toBe(true);
    expect(hostKeys.pattern.test('sshd_config')).toBe(false);
  });

  it('bakes in no identity: empty machine-id, generic hostname, no resolver, no authorized_keys', () => {
    expect(file('etc/machine-id')).toEqual({ path: 'etc/machine-id', content: '', mode: 0o444 });
    expect(file('etc/hostname')!.content).toBe('localhost\n');
    expect(file('etc/resolv.conf')!.content).toBe('');
    expect(plan.remove).toContain('root/.ssh/authorized_keys');
    expect(plan.remove).toContain('var/lib/dbus/machine-id');
  });

  it('masks the timers that would make background traffic, and drops their wants links', () => {
    for (const u of ['apt-daily.timer', 'apt-daily-upgrade.timer', 'dpkg-db-backup.timer', 'e2scrub_all.timer', 'fstrim.timer']) {
      expect(MASKED_UNITS).toContain(u);
      expect(plan.links).toContainEqual({ path: `etc/systemd/system/${u}`, target: '/dev/null' });
      expect(plan.remove).toContain(`etc/systemd/system/timers.target.wants/${u}`);
    }
  });

  it('gives the serial console an automatic root login', () => {
    expect(file('etc/systemd/system/serial-getty@ttyS0.service.d/banger-autologin.conf')!.content).toMatch(/^ExecStart=$\n^ExecStart=-\/sbin\/agetty .*--autologin root .* - \$TERM$/m);
  });
});
