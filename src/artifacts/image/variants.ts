/**
 * The two variants of `image build`: `minimal` (guestfiles.ts DEFAULT_PACKAGES: systemd, sshd,
 * git, build-essential) and `default`, rich enough to develop in: Docker Engine, python3 with venv
 * and pip, node and npm, the usual tools, and mise (mise.ts). Pure data; build.ts applies it.
 *
 * Docker under banger's kernel: the Debian cloud kernel has overlayfs, bridge, veth, netfilter and
 * cgroups v2 as modules, and the image carries the whole module tree, so systemd-modules-load loads
 * the ones dockerd needs at boot. docker.service is started by systemd through docker.socket (on
 * first use), so a VM's boot (and its warm snapshot) does not pay for dockerd under emulation.
 * banger-docker-check says, doctor-style, what a custom kernel lacks.
 */
import type { ImageVariant } from '../../api/image.js';
import { DEFAULT_PACKAGES, guestCustomisation, type GuestCustomisation } from './guestfiles.js';

/** What the default variant adds to DEFAULT_PACKAGES. */
export const RICH_PACKAGES = [
  // Docker Engine: Depends pulls containerd, runc, tini and iptables (nft backend by default).
  'docker.io',
  // The Debian cloud kernel enables AppArmor: dockerd then loads its docker-default profile with
  // apparmor_parser, and `docker run` fails without it (Debian's docker.io only recommends it).
  'apparmor',
  'python3',
  'python3-venv',
  'python3-pip',
  'nodejs',
  'npm',
  'vim-tiny',
  'nano',
  'rsync',
  'unzip',
  'zstd',
  'xz-utils',
  'iputils-ping',
  'dnsutils',
  'procps',
  'less',
  'ca-certificates',
] as const;

/** Package set of a variant, before `--include`. */
export function variantPackages(variant: ImageVariant): string[] {
  return variant === 'minimal' ? [...DEFAULT_PACKAGES] : [...new Set([...DEFAULT_PACKAGES, ...RICH_PACKAGES])];
}

/** Modules dockerd needs (overlay2 storage, bridge networking with iptables, veth pairs). */
export const DOCKER_MODULES = ['overlay', 'bridge', 'br_netfilter', 'veth', 'nf_tables', 'nft_compat', 'nf_nat', 'xt_MASQUERADE', 'xt_conntrack', 'xt_addrtype'] as const;

export const DOCKER_CHECK = 'usr/local/sbin/banger-docker-check';

/** Where mise goes in the default image. */
export const MISE_GUEST_PATH = '/usr/local/bin/mise';

// Each line says ok or what is missing and what to do; exit 1 when anything is missing.
const dockerCheck = `#!/bin/sh
# banger-docker-check: what Docker needs from this VM's kernel, and whether it is there.
missing=0
say() { printf '%s\\n' "$*"; }
has_mod() { [ -d "/sys/module/$1" ] || modprobe -q "$1" 2>/dev/null || grep -qw "$1" "/lib/modules/$(uname -r)/modules.builtin" 2>/dev/null; }
if grep -qw overlay /proc/filesystems || modprobe -q overlay 2>/dev/null; then say "ok: overlayfs (overlay2 storage)"; else say "missing: overlayfs: the kernel needs CONFIG_OVERLAY_FS"; missing=1; fi
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then say "ok: cgroup v2 ($(cat /sys/fs/cgroup/cgroup.controllers))"; else say "missing: cgroup v2 at /sys/fs/cgroup: boot with systemd.unified_cgroup_hierarchy=1 on a kernel with CONFIG_CGROUPS"; missing=1; fi
for m in ${DOCKER_MODULES.join(' ')}; do
  if has_mod "$m"; then say "ok: module $m"; else say "missing: kernel module $m (Docker networking needs it): use a kernel that has it, e.g. banger kernel pull"; missing=1; fi
done
if iptables -L -n >/dev/null 2>&1; then say "ok: iptables ($(iptables -V 2>/dev/null))"; else say "missing: iptables cannot talk to the kernel's netfilter"; missing=1; fi
exit $missing
`;

const modulesLoad = `# banger: what dockerd needs from the kernel, loaded at boot (banger-docker-check explains gaps).
${DOCKER_MODULES.join('\n')}
`;

// dockerd's own start logs the check into the journal when something is missing (never fails it).
const dockerDropIn = `[Service]
ExecStartPre=-/${DOCKER_CHECK}
`;

// Interactive login shells get the repo's tools on PATH (mise activate); `vm exec` uses `mise exec`.
const miseProfile = `# banger: tools pinned by a repo's .mise.toml / .tool-versions, for interactive shells.
if [ -n "$BASH_VERSION" ] && [ -x ${MISE_GUEST_PATH} ]; then
  eval "$(${MISE_GUEST_PATH} activate bash)"
fi
`;

/** The customisation of a variant: the minimal one, plus Docker's and mise's files for `default`. */
export function variantCustomisation(variant: ImageVariant): GuestCustomisation {
  const base = guestCustomisation();
  if (variant === 'minimal') return base;
  return {
    ...base,
    files: [
      ...base.files,
      { path: DOCKER_CHECK, content: dockerCheck, mode: 0o755 },
      { path: 'etc/modules-load.d/banger-docker.conf', content: modulesLoad, mode: 0o644 },
      { path: 'etc/systemd/system/docker.service.d/banger-check.conf', content: dockerDropIn, mode: 0o644 },
      { path: 'etc/profile.d/banger-mise.sh', content: miseProfile, mode: 0o644 },
    ],
    remove: [
      ...base.remove,
      // Started on first use through docker.socket (still enabled), not at every boot.
      'etc/systemd/system/multi-user.target.wants/docker.service',
      'etc/systemd/system/multi-user.target.wants/containerd.service',
    ],
  };
}
