/**
 * Renders the two systemd units of a system install from the install record and the binaries:
 * `bangerd.service` (the daemon, as the owner) and `bangerd-root.service` (the root helper). Pure:
 * doctor re-renders them to tell whether the files on disk are still what this banger writes, and
 * every hardening directive carries its reason, printed as a comment above it in the unit.
 *
 * Units always describe the real host (sockets under /run); `--root DIR` only moves where the files
 * are written, never what they say.
 */
import { BangerError } from '../api/errors.js';
import type { InstallRecord } from './record.js';

export const DAEMON_UNIT = 'bangerd.service';
export const HELPER_UNIT = 'bangerd-root.service';
export const UNITS = [HELPER_UNIT, DAEMON_UNIT] as const;
export type UnitName = (typeof UNITS)[number];

/** RuntimeDirectory= names; with XDG_RUNTIME_DIR=/run, bangerd's socket is /run/banger/bangerd.sock (systemPaths().daemonSocket). */
export const DAEMON_RUNTIME_DIR = 'banger';
export const HELPER_RUNTIME_DIR = 'banger-root';

export interface UnitInputs {
  record: Pick<InstallRecord, 'owner' | 'gid' | 'home' | 'stateDir' | 'installId'>;
  /** Absolute path of the node binary (process.execPath). */
  node: string;
  /** Absolute path of dist/daemon/main.js. */
  daemonEntry: string;
  /** Absolute path of dist/rootd/main.js. */
  helperEntry: string;
}

/** One `Key=value` line; `why` (hardening only) is written as a comment above it. */
export interface Directive {
  key: string;
  value: string;
  why?: string;
}

/**
 * Whether bangerd runs with NoNewPrivileges=yes. It cannot: rootless image builds run
 * `mmdebstrap --mode=unshare`, whose uid mapping goes through the setuid `newuidmap`, and
 * no_new_privs makes the kernel ignore the setuid bit (measured on Debian 12: "newuidmap: write to
 * uid_map failed: Operation not permitted"). Seccomp-based options (SystemCallFilter=,
 * RestrictSUIDSGID=, ProtectKernel*=, LockPersonality=, ...) imply NoNewPrivileges for a non-root
 * unit, so the daemon uses only mount-namespace hardening. Flip this once builds go elsewhere.
 */
export const DAEMON_NO_NEW_PRIVILEGES = false;

/**
 * The helper's capability bounding set: what root keeps, each for a named job. Anything else
 * (CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_SYS_RAWIO, CAP_SYS_BOOT, ...) is gone even for root.
 */
export const HELPER_CAPABILITIES: ReadonlyArray<{ cap: string; why: string }> = [
  { cap: 'CAP_NET_ADMIN', why: 'ip link/addr (bridge, taps owned by the owner) and iptables NAT/FORWARD rules' },
  { cap: 'CAP_NET_RAW', why: 'iptables opens raw netlink/packet sockets' },
  { cap: 'CAP_CHOWN', why: 'jailer: chown the chroot and its files to the owner' },
  { cap: 'CAP_FOWNER', why: 'jailer: chmod files in the chroot it does not own' },
  { cap: 'CAP_DAC_OVERRIDE', why: "jailer: link kernel/rootfs from the owner's 0700 state dir into the chroot" },
  { cap: 'CAP_SETUID', why: 'jailer: drop to the owner uid before exec of firecracker' },
  { cap: 'CAP_SETGID', why: 'jailer: drop to the owner gid before exec of firecracker' },
  { cap: 'CAP_SYS_CHROOT', why: 'jailer: chroot/pivot_root into the jail' },
  { cap: 'CAP_MKNOD', why: 'jailer: create /dev/kvm and /dev/net/tun nodes inside the chroot' },
  { cap: 'CAP_SYS_ADMIN', why: 'jailer: mount namespace, bind mounts and cgroup setup' },
];

/** The directories ProtectHome= hides. */
const HOME_TREES = ['/home', '/root', '/run/user'];
const underHomeTree = (p: string) => HOME_TREES.some((t) => p === t || p.startsWith(`${t}/`));

/**
 * What the helper must still see under ProtectHome=tmpfs to start at all: the checkout
 * (<checkout>/dist/rootd/main.js and its node_modules) and node's prefix (<prefix>/bin/node, e.g. nvm),
 * when they live in a home directory. Read-only, deduplicated, outermost first.
 */
export function helperBinds(i: Pick<UnitInputs, 'node' | 'helperEntry'>): string[] {
  const up = (p: string, n: number): string => (n === 0 ? p : up(p.slice(0, p.lastIndexOf('/')) || '/', n - 1));
  const wanted = [up(i.helperEntry, 3), up(i.node, 2)].filter(underHomeTree).sort();
  return wanted.filter((p, k) => !wanted.slice(0, k).some((q) => p === q || p.startsWith(`${q}/`)));
}

const SAFE_PATH = /^\/[A-Za-z0-9._/+@-]*$/;
const SAFE_NAME = /^[a-z_][a-z0-9_-]*[$]?$/;

/** Values go into unit files verbatim: refuse anything systemd would split, expand (%) or unquote. */
function checkInputs(i: UnitInputs): void {
  for (const [what, p] of [
    ['node binary', i.node],
    ['daemon entry', i.daemonEntry],
    ['helper entry', i.helperEntry],
    ['home', i.record.home],
    ['state dir', i.record.stateDir],
  ] as const) {
    if (!SAFE_PATH.test(p) || p.includes('//') || p.split('/').includes('..')) {
      throw new BangerError('bad_request', `${what} path ${JSON.stringify(p)} cannot go into a systemd unit (only letters, digits and ._/+@- are allowed); move it to a plain path`);
    }
  }
  if (!SAFE_NAME.test(i.record.owner)) throw new BangerError('bad_request', `user name ${JSON.stringify(i.record.owner)} is not a plain POSIX user name`);
}

/** bangerd.service: the daemon as the owner; VMs (its children) outlive restarts. */
export function daemonDirectives(i: UnitInputs): { unit: Directive[]; service: Directive[] } {
  checkInputs(i);
  const { owner, gid, home, stateDir } = i.record;
  return {
    unit: [
      { key: 'Description', value: `banger daemon (VMs, images, kernels) for ${owner}` },
      { key: 'Wants', value: HELPER_UNIT },
      { key: 'After', value: `${HELPER_UNIT} network.target` },
    ],
    service: [
      { key: 'Type', value: 'simple' },
      { key: 'User', value: owner },
      { key: 'Group', value: String(gid) },
      { key: 'ExecStart', value: `${i.node} ${i.daemonEntry}` },
      { key: 'Environment', value: `HOME=${home}` },
      { key: 'Environment', value: 'XDG_RUNTIME_DIR=/run' },
      { key: 'Environment', value: `XDG_STATE_HOME=${home}/.local/state` },
      { key: 'Environment', value: `XDG_CONFIG_HOME=${home}/.config` },
      { key: 'Environment', value: `XDG_CACHE_HOME=${home}/.cache` },
      { key: 'RuntimeDirectory', value: DAEMON_RUNTIME_DIR, why: 'holds bangerd.sock and per-VM QMP/API sockets, owned by the owner' },
      { key: 'RuntimeDirectoryMode', value: '0700', why: 'only the owner may reach the daemon and the VM sockets' },
      { key: 'RuntimeDirectoryPreserve', value: 'yes', why: 'running VMs keep their sockets across stop/restart, so the next bangerd adopts them' },
      { key: 'KillMode', value: 'process', why: 'stop/restart kills bangerd only; its QEMU/Firecracker children (the VMs) keep running' },
      { key: 'Restart', value: 'on-failure' },
      { key: 'RestartSec', value: '2' },
      {
        key: 'NoNewPrivileges',
        value: DAEMON_NO_NEW_PRIVILEGES ? 'yes' : 'no',
        why: 'no: rootless image builds (mmdebstrap --mode=unshare) need the setuid newuidmap/newgidmap',
      },
      { key: 'ProtectSystem', value: 'strict', why: '/usr, /etc, /boot and the rest of the host are read-only for bangerd and its VMs' },
      {
        key: 'ReadWritePaths',
        value: home,
        why: 'the owner\'s home stays writable: state/cache dirs and `workspace export --apply` into their repos (ProtectHome= cannot be on: bangerd reads the owner\'s repos)',
      },
      ...(stateDir.startsWith(`${home}/`) ? [] : [{ key: 'ReadWritePaths', value: stateDir, why: 'the state dir lies outside the home' }]),
      { key: 'PrivateTmp', value: 'yes', why: 'bangerd\'s temp files (workspace bundles) are invisible to other users' },
      { key: 'ProtectControlGroups', value: 'yes', why: 'bangerd never writes cgroups' },
      // Not PrivateDevices=/DeviceAllow=: QEMU needs /dev/kvm and /dev/net/tun. Not UMask=0077: git
      // (workspace export --apply) would create files in the owner's repos without group/other bits.
    ],
  };
}

/** bangerd-root.service: the root helper, with a bounded capability set. */
export function helperDirectives(i: UnitInputs): { unit: Directive[]; service: Directive[] } {
  checkInputs(i);
  const { installId, stateDir } = i.record;
  return {
    unit: [
      { key: 'Description', value: `banger root helper (bridge, taps, NAT, .vm resolver, jailer) for install ${installId}` },
      { key: 'Before', value: DAEMON_UNIT },
      { key: 'After', value: 'network.target' },
    ],
    service: [
      { key: 'Type', value: 'simple' },
      { key: 'ExecStart', value: `${i.node} ${i.helperEntry}` },
      { key: 'RuntimeDirectory', value: HELPER_RUNTIME_DIR, why: 'holds helper.sock (chowned to the owner, 0600)' },
      { key: 'RuntimeDirectoryMode', value: '0711', why: 'the owner can reach helper.sock but not list the directory' },
      { key: 'KillMode', value: 'process', why: 'the jailer\'s children are VMs: stop/restart kills the helper only' },
      { key: 'Restart', value: 'on-failure' },
      { key: 'RestartSec', value: '2' },
      { key: 'NoNewPrivileges', value: 'yes', why: 'nothing the helper runs may gain privileges through setuid/file caps' },
      // One line per capability (systemd ORs repeated CapabilityBoundingSet= lines), each with its job.
      ...HELPER_CAPABILITIES.map((c) => ({ key: 'CapabilityBoundingSet', value: c.cap, why: c.why })),
      { key: 'ProtectSystem', value: 'strict', why: 'the helper changes network state, never host files' },
      { key: 'ReadWritePaths', value: '/run', why: 'iptables takes /run/xtables.lock' },
      { key: 'ReadWritePaths', value: '-/etc/systemd/resolved.conf.d', why: "resolver.wire writes banger's .vm drop-in there (absent: systemd-resolved is not in use)" },
      { key: 'ProtectHome', value: 'tmpfs', why: 'homes are hidden from root here; only the owner\'s state dir is bound back (below)' },
      { key: 'BindPaths', value: `-${stateDir}`, why: 'the jailer\'s chroot base and the images/kernels it links live in the owner\'s state dir' },
      ...helperBinds(i).map((p) => ({ key: 'BindReadOnlyPaths', value: p, why: 'banger (or node) is installed under a home directory, which ProtectHome= hides' })),
      { key: 'PrivateTmp', value: 'yes', why: 'the helper has no business in the host /tmp' },
      { key: 'ProtectKernelLogs', value: 'yes', why: 'no access to the kernel log' },
      { key: 'ProtectKernelModules', value: 'yes', why: 'no module loading by the helper (the kernel still autoloads bridge/tun itself)' },
      { key: 'ProtectHostname', value: 'yes', why: 'the helper never changes the hostname' },
      { key: 'RestrictSUIDSGID', value: 'yes', why: 'nothing the helper makes is setuid/setgid' },
      { key: 'SystemCallArchitectures', value: 'native', why: 'node, ip, iptables and the jailer are native x86_64' },
      { key: 'LockPersonality', value: 'yes', why: 'no execution-domain changes' },
      { key: 'RestrictRealtime', value: 'yes', why: 'no realtime scheduling' },
      // Not ProtectClock=: it adds a DeviceAllow= rule, which closes the device policy and would deny
      // /dev/net/tun (taps) and /dev/kvm to the helper and the jailer.
    ],
  };
}

/** Hardening directives doctor insists on, per unit (key=value exactly as rendered). */
export function hardeningOf(i: UnitInputs, unit: UnitName): Directive[] {
  const d = unit === DAEMON_UNIT ? daemonDirectives(i) : helperDirectives(i);
  return d.service.filter((x) => x.why !== undefined);
}

function renderDirectives(ds: Directive[]): string[] {
  return ds.flatMap((d) => [...(d.why ? [`# ${d.why}`] : []), `${d.key}=${d.value}`]);
}

function render(d: { unit: Directive[]; service: Directive[] }): string {
  return [
    '# Written by `sudo banger system install`; removed by `sudo banger system uninstall`. Do not edit:',
    '# `banger doctor` compares this file with what banger renders.',
    '[Unit]',
    ...renderDirectives(d.unit),
    '',
    '[Service]',
    ...renderDirectives(d.service),
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

export function renderUnit(i: UnitInputs, unit: UnitName): string {
  return render(unit === DAEMON_UNIT ? daemonDirectives(i) : helperDirectives(i));
}

/** The `Key=value` lines of a unit file (comments and section headers dropped). */
export function unitLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#') && !l.startsWith(';') && !l.startsWith('['));
}
