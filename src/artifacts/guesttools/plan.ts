/**
 * banger's guest tools: a self-contained directory that lets any root file system (an OCI image
 * with no init, no sshd, maybe no libc banger knows) boot as a banger VM without a byte of it
 * being written into the image's files. Pure: what the directory holds and the scripts in it;
 * fetch.ts gathers the Debian binaries, the initramfs carries the tree under /banger.
 *
 * At boot (kernel/initscript.ts, "banger init" mode) the initramfs copies the tree onto a tmpfs
 * mounted at /.banger/tools in the VM's root and switch_roots into libexec/init, which mounts the
 * API file systems, starts sshd and reaps orphans as PID 1. sshd runs chrooted in the tools tree,
 * where it finds an ordinary Debian layout: its loader and libraries at their usual paths, its
 * own passwd (root's shell is bin/banger-shell), config, privilege-separation directory. The
 * login shell enters the VM's root (PID 1's) and runs banger's dash there, with banger's tools
 * first on PATH and busybox's applets last. From the VM's root the dynamic tools (git, GNU
 * tar, ssh-keygen, setpriv, resize2fs) run through wrappers that call the bundled loader with the
 * bundled libraries, so they work on musl, busybox-only and distroless roots alike.
 *
 * On the VM's own disk (never in the image): the /.banger mount point and /.banger/state, which
 * keeps the VM's SSH host key across boots.
 */
import { createHash } from 'node:crypto';
import type { CpioEntry } from '../kernel/cpio.js';

/** Where the tools tree sits in the VM's root (a tmpfs), and the persistent state beside it. */
export const TOOLS_DIR = '/.banger/tools';
export const STATE_DIR = '/.banger/state';
/** Where the initramfs carries the tree (copied to TOOLS_DIR at boot). */
export const INITRAMFS_TOOLS_DIR = 'banger';

/** The dynamic loader's path inside the tree (the standard one, so sshd in its chroot needs nothing special). */
export const LOADER = 'lib64/ld-linux-x86-64.so.2';
/** Where every bundled library is stored inside the tree, under its soname. */
export const LIB_DIR = 'lib/x86_64-linux-gnu';

export interface ToolProgram {
  /** Debian package that ships it. */
  pkg: string;
  /** Candidate paths in the package (without a leading '/'), first found wins. */
  from: string[];
  /** Path in the tools tree. */
  to: string;
  /** Name of the wrapper in bin/ that runs it from the VM's root through the bundled loader. */
  wrapper: string;
}

export const TOOL_PROGRAMS: readonly ToolProgram[] = [
  // banger's shell for commands: Debian's static busybox prefers its own applets to PATH (its tar
  // has no -i, its ls no --color), so commands run under dash, which looks PATH up as usual.
  { pkg: 'dash', from: ['bin/dash', 'usr/bin/dash'], to: 'usr/bin/dash', wrapper: 'sh' },
  { pkg: 'openssh-server', from: ['usr/sbin/sshd'], to: 'usr/sbin/sshd', wrapper: 'sshd' },
  { pkg: 'openssh-client', from: ['usr/bin/ssh-keygen'], to: 'usr/bin/ssh-keygen', wrapper: 'ssh-keygen' },
  // Workspaces: the guest side of prepare and export needs git and GNU tar (busybox tar has no -i).
  { pkg: 'git', from: ['usr/bin/git'], to: 'usr/bin/git', wrapper: 'git' },
  { pkg: 'tar', from: ['bin/tar', 'usr/bin/tar'], to: 'usr/bin/tar', wrapper: 'tar' },
  // `vm exec` as the image's User (busybox's setpriv cannot change ids).
  { pkg: 'util-linux', from: ['usr/bin/setpriv', 'bin/setpriv'], to: 'usr/bin/setpriv', wrapper: 'setpriv' },
  // Every boot grows the file system to the VM's disk size.
  { pkg: 'e2fsprogs', from: ['sbin/resize2fs', 'usr/sbin/resize2fs'], to: 'usr/sbin/resize2fs', wrapper: 'resize2fs' },
];

/** Library packages to fetch besides those reached through Depends/Pre-Depends. */
export const SEED_LIBRARY_PACKAGES = ['libc6', 'libgcc-s1'] as const;

/**
 * Whether a dependency is followed when gathering libraries: shared-library packages only, minus
 * those no bundled program links (git's libcurl closure is for https remotes, not for workspaces).
 */
export function followDependency(name: string): boolean {
  if (!/^lib|^zlib1g$/.test(name)) return false;
  return !/-perl$|^libpam-|^libcurl|^libexpat|-common$|-bin$|-dev$|^libc-|^libgnutls|^libldap|^libsasl/.test(name);
}

/** Busybox applets linked into bin/ (ahead of the image's own tools): poweroff must not be systemd's. */
const FIRST_APPLETS = ['poweroff', 'reboot'] as const;

const SSHD_CONFIG = `# banger's sshd, chrooted in the guest tools tree (see artifacts/guesttools/plan.ts).
Port 22
HostKey /state/ssh_host_ed25519_key
AuthorizedKeysFile /etc/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PrintMotd no
PrintLastLog no
PidFile /run/sshd.pid
AcceptEnv LANG LC_*
`;

const PASSWD = `root:x:0:0:root:/root:/bin/banger-shell
sshd:x:100:65534:sshd privilege separation:/run/sshd:/bin/false
`;
const GROUP = `root:x:0:
nogroup:x:65534:
`;
const NSSWITCH = `passwd: files
group: files
shadow: files
hosts: files dns
`;

/** Guest tools' PATH inside the VM's root: banger's tools first, the image's, busybox's applets last. */
export const GUEST_PATH = `${TOOLS_DIR}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${TOOLS_DIR}/bb`;

/** root's login shell, run by sshd in the chroot: leave it for the VM's root (PID 1's). */
const BANGER_SHELL = `#!/bin/busybox sh
exec /bin/busybox chroot /proc/1/root ${TOOLS_DIR}/libexec/session "$@"
`;

/** The session in the VM's root: banger's environment, then the command (-c) or a login shell. */
const SESSION = `#!${TOOLS_DIR}/bin/busybox sh
export PATH=${GUEST_PATH}
export SHELL=${TOOLS_DIR}/bin/sh
[ -d /root ] && export HOME=/root || export HOME=/
cd "$HOME" 2>/dev/null || cd /
if [ "$#" -eq 0 ]; then
  for s in /bin/bash /bin/sh; do
    if [ -x "$s" ]; then export SHELL=$s; exec "$s" -l; fi
  done
  exec ${TOOLS_DIR}/bin/sh -l
fi
exec ${TOOLS_DIR}/bin/sh "$@"
`;

/**
 * PID 1 when the root has no init (or no sshd) of its own: mounts, hostname, sshd, then reaps
 * orphans for ever (ash's wait reaps any child). Writes nothing into the image's files: the
 * mounts are tmpfs and the host key lives in ${STATE_DIR}.
 */
const STAGE2_INIT = `#!${TOOLS_DIR}/bin/busybox sh
T=${TOOLS_DIR}
bb=$T/bin/busybox
say() { printf 'banger-init: %s\\n' "$*" > /dev/console; }
export PATH=${GUEST_PATH}
for d in /proc /sys /dev /run /tmp; do [ -d "$d" ] || $bb mkdir -p "$d"; done
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mkdir -p /dev/pts /dev/shm
$bb mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
$bb mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
$bb mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
$bb mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
$bb --install -s $T/bb
[ -s /etc/hostname ] && $bb hostname -F /etc/hostname
# sshd's root is the tools tree, with the live /dev and /proc and the VM's state directory.
$bb mount --rbind /dev $T/dev
$bb mount -t proc proc $T/proc
$bb mount --bind ${STATE_DIR} $T/state
k=/state/ssh_host_ed25519_key
if ! $bb chroot $T /usr/bin/ssh-keygen -y -f $k >/dev/null 2>&1; then
  $bb rm -f "$T$k" "$T$k.pub"
  $bb chroot $T /usr/bin/ssh-keygen -q -t ed25519 -N '' -C "root@$($bb hostname)" -f $k || say "cannot make an SSH host key"
  $bb sync
fi
$bb chroot $T /usr/sbin/sshd -E /run/sshd.log || say "sshd did not start: see $T/run/sshd.log"
trap '' HUP INT TERM
while :; do
  $bb sleep 3600 &
  wait $!
done
`;

/** A bin/ wrapper: the program through the bundled loader and libraries, from the VM's root. */
export function wrapperScript(p: ToolProgram): string {
  return `#!${TOOLS_DIR}/bin/busybox sh\nexec ${TOOLS_DIR}/${LOADER} --library-path ${TOOLS_DIR}/${LIB_DIR} --argv0 ${p.wrapper} ${TOOLS_DIR}/${p.to} "$@"\n`;
}

/** Hashed into the initramfs builder id: a change to any text here rebuilds kernels on pull. */
export const GUEST_TOOLS_FINGERPRINT = createHash('sha256')
  .update([SSHD_CONFIG, PASSWD, GROUP, NSSWITCH, BANGER_SHELL, SESSION, STAGE2_INIT, JSON.stringify(TOOL_PROGRAMS), wrapperScript(TOOL_PROGRAMS[0])].join('\0'))
  .digest('hex');

export interface ToolsInput {
  busybox: Buffer;
  loader: Buffer;
  /** soname -> bytes */
  libraries: ReadonlyMap<string, Buffer>;
  /** TOOL_PROGRAMS[i].to -> bytes */
  programs: ReadonlyMap<string, Buffer>;
}

/** The tree as cpio entries under INITRAMFS_TOOLS_DIR (directories first). */
export function toolsEntries(input: ToolsInput): CpioEntry[] {
  const at = (p: string) => `${INITRAMFS_TOOLS_DIR}/${p}`;
  const dirs: [string, number][] = [
    ['', 0o755],
    ['bin', 0o755],
    ['bb', 0o755],
    ['dev', 0o755],
    ['etc', 0o755],
    ['etc/ssh', 0o755],
    ['lib', 0o755],
    [LIB_DIR, 0o755],
    ['lib64', 0o755],
    ['libexec', 0o755],
    ['proc', 0o755],
    ['root', 0o700],
    ['run', 0o755],
    ['run/sshd', 0o755],
    ['state', 0o700],
    ['tmp', 0o1777],
    ['usr', 0o755],
    ['usr/bin', 0o755],
    ['usr/sbin', 0o755],
    ['var', 0o755],
    ['var/empty', 0o755],
  ];
  const entries: CpioEntry[] = dirs.map(([p, mode]) => ({ type: 'dir', path: p === '' ? INITRAMFS_TOOLS_DIR : at(p), mode }));
  const text = (p: string, s: string, mode: number) => entries.push({ type: 'file', path: at(p), mode, data: Buffer.from(s, 'utf8') });
  entries.push({ type: 'file', path: at('bin/busybox'), mode: 0o755, data: input.busybox });
  entries.push({ type: 'file', path: at(LOADER), mode: 0o755, data: input.loader });
  for (const [soname, data] of [...input.libraries].sort(([a], [b]) => a.localeCompare(b))) {
    entries.push({ type: 'file', path: at(`${LIB_DIR}/${soname}`), mode: 0o644, data });
  }
  for (const p of TOOL_PROGRAMS) {
    const data = input.programs.get(p.to);
    if (!data) throw new Error(`guest tools: ${p.to} missing`);
    entries.push({ type: 'file', path: at(p.to), mode: 0o755, data });
    if (p.wrapper !== 'sshd') text(`bin/${p.wrapper}`, wrapperScript(p), 0o755);
  }
  for (const a of FIRST_APPLETS) entries.push({ type: 'symlink', path: at(`bin/${a}`), target: 'busybox' });
  text('bin/banger-shell', BANGER_SHELL, 0o755);
  text('libexec/session', SESSION, 0o755);
  text('libexec/init', STAGE2_INIT, 0o755);
  text('etc/passwd', PASSWD, 0o644);
  text('etc/group', GROUP, 0o644);
  text('etc/nsswitch.conf', NSSWITCH, 0o644);
  text('etc/ssh/sshd_config', SSHD_CONFIG, 0o644);
  return entries;
}

export const GUEST_TOOLS_TEXT = { SSHD_CONFIG, PASSWD, BANGER_SHELL, SESSION, STAGE2_INIT } as const;
