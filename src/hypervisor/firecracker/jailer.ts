/**
 * The optional Firecracker jailer: argv and the jail's file layout, as pure values.
 *
 * The jailer copies the firecracker binary into <chroot-base>/<exec-file-name>/<id>/root, pivots into it,
 * drops to uid:gid and execs firecracker there. Everything Firecracker opens must therefore be inside that
 * root, and API bodies name files by their path inside it. The driver hard-links the VM's files in
 * (hard links keep the log and the disk shared with the VM's state directory) following `jailLayout`.
 */
import { basename, join } from 'node:path';
import { BangerError } from '../../api/errors.js';
import type { VmSpec } from '../driver.js';
import { snapshotFiles } from './requests.js';

export interface JailerConfig {
  enabled: boolean;
  bin: string;
  /** Ids Firecracker runs as inside the jail. @default the daemon's own */
  uid?: number;
  gid?: number;
  /** @default /srv/jailer (the jailer's own default) */
  chrootBaseDir?: string;
  /** Set when bangerd is not root: the jailer is started by bangerd-root. */
  host?: JailerHost;
}

export const DEFAULT_CHROOT_BASE = '/srv/jailer';

/**
 * Who starts the jailer when bangerd is not root: bangerd-root (rootd/api.ts jailer.spawn/clean), which
 * runs it as root with the owner's uid/gid. Paths are absolute; the console log must already exist.
 */
export interface JailerHost {
  spawn(req: { vmId: string; jailerBin: string; firecrackerBin: string; chrootBase: string; apiSock: typeof JAIL_API_SOCKET; serialLog: string; netns?: string }): Promise<{ pid: number }>;
  clean(req: { vmId: string; firecrackerBin: string; chrootBase: string }): Promise<void>;
}
/** Firecracker's default API socket, relative to the jail root. */
export const JAIL_API_SOCKET = '/run/firecracker.socket';

export interface JailerArgvInput {
  jailerBin: string;
  firecrackerBin: string;
  id: string;
  uid: number;
  gid: number;
  chrootBaseDir: string;
  /** Network namespace name (from `ip netns`), joined by the jailer. */
  netns?: string;
  /** Arguments for firecracker itself, after `--`. */
  firecrackerArgs: string[];
}

/** Jailer ids: alphanumerics and hyphens, at most 64 (jailer's own rule). */
export function checkJailerId(id: string): void {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) {
    throw new BangerError('bad_request', `jailer id ${JSON.stringify(id)} must be 1-64 letters, digits or hyphens`);
  }
}

export function jailerArgv(input: JailerArgvInput): string[] {
  checkJailerId(input.id);
  if (!basename(input.firecrackerBin).includes('firecracker')) {
    throw new BangerError('bad_request', `the jailer only runs a binary whose file name contains "firecracker", got ${input.firecrackerBin}; rename it or set jailer_enabled = false`);
  }
  for (const [name, value] of [['uid', input.uid], ['gid', input.gid]] as const) {
    if (!Number.isInteger(value) || value < 0) throw new BangerError('bad_request', `jailer ${name} must be a non-negative integer, got ${value}`);
  }
  return [
    input.jailerBin,
    '--id',
    input.id,
    '--exec-file',
    input.firecrackerBin,
    '--uid',
    String(input.uid),
    '--gid',
    String(input.gid),
    '--chroot-base-dir',
    input.chrootBaseDir,
    ...(input.netns ? ['--netns', join('/var/run/netns', input.netns)] : []),
    '--',
    ...input.firecrackerArgs,
  ];
}

/** One file the driver links into the jail. */
export interface JailFile {
  host: string;
  /** Absolute path as Firecracker sees it inside the jail. */
  jail: string;
  /** link: hard-link the host file in; out: Firecracker creates it, the driver links it back out. */
  direction: 'link' | 'out';
}

export interface JailLayout {
  /** The jail root on the host. */
  rootDir: string;
  /** The parent the jailer creates per VM (<base>/<exec-name>/<id>); removed after the VM exits. */
  vmDir: string;
  apiSocketOnHost: string;
  vsockOnHost: string;
  /** Files to link in before boot (or restore). */
  files: JailFile[];
  /** Maps a host path from the spec to its path inside the jail; unknown paths are a programming error. */
  mapPath(hostPath: string): string;
  /** Host path inside the jail for a jail path. */
  onHost(jailPath: string): string;
}

/** Where each of the VM's files goes inside the jail. Fixed names keep paths short and predictable. */
export function jailLayout(spec: VmSpec, opts: { firecrackerBin: string; chrootBaseDir: string; statePath?: string }): JailLayout {
  checkJailerId(spec.id);
  const vmDir = join(opts.chrootBaseDir, basename(opts.firecrackerBin), spec.id);
  const rootDir = join(vmDir, 'root');
  const files: JailFile[] = [
    { host: spec.logPath, jail: '/firecracker.log', direction: 'link' },
    { host: spec.diskPath, jail: '/rootfs.raw', direction: 'link' },
  ];
  if (spec.restoreFrom) {
    const snap = snapshotFiles(spec.restoreFrom);
    files.push({ host: snap.snapshotPath, jail: '/snapshot', direction: 'link' }, { host: snap.memFilePath, jail: '/snapshot.mem', direction: 'link' });
  } else {
    files.push({ host: spec.kernelPath, jail: '/vmlinux', direction: 'link' }, { host: spec.initrdPath, jail: '/initrd.img', direction: 'link' });
  }
  if (opts.statePath) {
    const snap = snapshotFiles(opts.statePath);
    files.push({ host: snap.snapshotPath, jail: '/snapshot', direction: 'out' }, { host: snap.memFilePath, jail: '/snapshot.mem', direction: 'out' });
  }
  const onHost = (jailPath: string) => join(rootDir, jailPath);
  const vsockJail = '/vsock.sock';
  return {
    rootDir,
    vmDir,
    apiSocketOnHost: onHost(JAIL_API_SOCKET),
    vsockOnHost: onHost(vsockJail),
    files,
    onHost,
    mapPath(hostPath) {
      if (hostPath === onHost(vsockJail)) return vsockJail;
      const f = files.find((x) => x.host === hostPath);
      if (!f) throw new BangerError('internal', `no jail path for ${hostPath}`);
      return f.jail;
    },
  };
}
