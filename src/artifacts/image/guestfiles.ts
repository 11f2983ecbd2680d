/**
 * What the default image contains beyond Debian's packages: the files, links and removals that make
 * a bootstrapped root a banger guest. Pure data; build.ts applies it. Per-VM identity (host name,
 * SSH key, address) is never here: the initramfs injects it at boot (see the boot contract).
 */

/** The default package set of `image build`; `--include` adds to it. */
export const DEFAULT_PACKAGES = [
  'systemd-sysv',
  // Without udev no device unit ever appears: serial-getty@ttyS0 (bound to dev-ttyS0.device) and
  // multi-user.target wait forever, and modules are not loaded for hardware found at boot.
  'udev',
  'openssh-server',
  // Without dbus there is no logind, and an ACPI power-down request is ignored.
  'dbus',
  'git',
  'curl',
  'ca-certificates',
  'jq',
  'less',
  'tmux',
  'procps',
  'iproute2',
  'sudo',
  // depmod for the kernel modules copied in at build time.
  'kmod',
  'build-essential',
] as const;

/** Units masked so a guest makes no background traffic or disk churn on its own. */
export const MASKED_UNITS = [
  'apt-daily.timer',
  'apt-daily-upgrade.timer',
  'dpkg-db-backup.timer',
  'e2scrub_all.timer',
  'fstrim.timer',
  // Looks for leftover e2scrub LVM snapshots at every boot: none exist in a VM, and it costs
  // ~14 s of CPU under TCG.
  'e2scrub_reap.service',
  // ConditionFirstBoot is true on every VM's first boot (empty machine-id); its prompts would
  // wait on the serial console.
  'systemd-firstboot.service',
] as const;

export interface GuestFile {
  /** Path inside the root, without a leading '/'. */
  path: string;
  content: string;
  mode: number;
}

export interface GuestLink {
  path: string;
  target: string;
}

export interface GuestCustomisation {
  files: GuestFile[];
  links: GuestLink[];
  /** Exact paths to delete if present. */
  remove: string[];
  /** Directories whose entries matching the pattern are deleted. */
  removeMatching: { dir: string; pattern: RegExp }[];
}

export const HOSTKEY_UNIT = 'banger-hostkeys.service';

export const HOSTKEY_SCRIPT = 'usr/local/sbin/banger-hostkey';

// A VM killed right after its first boot can leave an empty or torn key (ext4 delayed allocation);
// sshd then refuses to start. So: keep the key only if it reads back, and flush a new one at once.
const hostKeyScript = `#!/bin/sh
k=/etc/ssh/ssh_host_ed25519_key
ssh-keygen -y -f "$k" >/dev/null 2>&1 && exit 0
rm -f "$k" "$k.pub"
ssh-keygen -q -t ed25519 -N "" -f "$k"
sync
`;

const hostKeysUnit = `[Unit]
Description=Generate this VM's SSH host key (banger)
Before=ssh.service

[Service]
Type=oneshot
ExecStart=/${HOSTKEY_SCRIPT}

[Install]
WantedBy=multi-user.target
`;

const sshdDropIn = `# banger: one ed25519 host key, generated on first boot; key-only root login.
HostKey /etc/ssh/ssh_host_ed25519_key
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UseDNS no
`;

// The serial console is reachable only by whoever runs the hypervisor, who owns the disk anyway;
// an automatic root login there makes it a working debugging path without a password in the image.
const serialAutologin = `[Service]
ExecStart=
ExecStart=-/sbin/agetty -o '-p -f -- \\\\u' --keep-baud --autologin root 115200,57600,38400,9600 - $TERM
`;

const hosts = `127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
`;

export function guestCustomisation(): GuestCustomisation {
  return {
    files: [
      { path: `etc/systemd/system/${HOSTKEY_UNIT}`, content: hostKeysUnit, mode: 0o644 },
      { path: HOSTKEY_SCRIPT, content: hostKeyScript, mode: 0o755 },
      { path: 'etc/ssh/sshd_config.d/banger.conf', content: sshdDropIn, mode: 0o644 },
      { path: 'etc/systemd/system/serial-getty@ttyS0.service.d/banger-autologin.conf', content: serialAutologin, mode: 0o644 },
      // Empty: each VM gets its own id on first boot (machine-id(5)). Never the builder's.
      { path: 'etc/machine-id', content: '', mode: 0o444 },
      // mmdebstrap copies the build host's hostname and resolv.conf in; neither belongs in a guest.
      { path: 'etc/hostname', content: 'localhost\n', mode: 0o644 },
      { path: 'etc/hosts', content: hosts, mode: 0o644 },
      { path: 'etc/resolv.conf', content: '', mode: 0o644 },
    ],
    links: [
      { path: `etc/systemd/system/multi-user.target.wants/${HOSTKEY_UNIT}`, target: `/etc/systemd/system/${HOSTKEY_UNIT}` },
      ...MASKED_UNITS.map((u) => ({ path: `etc/systemd/system/${u}`, target: '/dev/null' })),
    ],
    remove: [
      ...MASKED_UNITS.flatMap((u) => [`etc/systemd/system/timers.target.wants/${u}`, `etc/systemd/system/multi-user.target.wants/${u}`]),
      'var/lib/dbus/machine-id',
      'root/.ssh/authorized_keys',
    ],
    removeMatching: [
      // Host keys made by openssh-server's postinst would be shared by every VM.
      { dir: 'etc/ssh', pattern: /^ssh_host_/ },
      // Downloaded .debs and apt's binary caches (the .debs are kept in banger's cache instead).
      { dir: 'var/cache/apt/archives', pattern: /\.deb$/ },
      { dir: 'var/cache/apt', pattern: /\.bin$/ },
    ],
  };
}
