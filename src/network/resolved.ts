/**
 * Routing the `vm` domain to banger's DNS server on systemd-resolved hosts, with a drop-in:
 *
 *   /etc/systemd/resolved.conf.d/banger.conf
 *   [Resolve]
 *   DNS=127.0.0.1:42069
 *   Domains=~vm
 *
 * `~vm` makes `vm` a routing-only domain: resolved sends `*.vm` queries to banger; other names keep
 * going to the link servers. (banger answers REFUSED for anything outside `vm`, so a stray query
 * fails over instead of resolving wrongly.) Content and checks are pure; the host (paths, whether
 * resolved runs, how to reload it) is passed in so tests use a temporary directory.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DoctorCheck } from '../api/daemon.js';
import { BangerError } from '../api/errors.js';
import { VM_DOMAIN } from '../api/names.js';
import { run } from '../host/exec.js';

export interface ResolvedHost {
  dropInPath: string;
  /** Is systemd-resolved the host's resolver? */
  active(): boolean;
  /** Makes resolved re-read its configuration. */
  reload(): Promise<void>;
}

export function systemResolved(): ResolvedHost {
  return {
    dropInPath: '/etc/systemd/resolved.conf.d/banger.conf',
    active: () => existsSync('/run/systemd/resolve/stub-resolv.conf') || existsSync('/run/systemd/resolve/resolv.conf'),
    reload: async () => {
      await run(['systemctl', 'try-reload-or-restart', 'systemd-resolved.service'], { timeoutMs: 30_000 });
    },
  };
}

export interface DnsListen {
  host: string;
  port: number;
}

const HEADER = '# Written by `banger dns install`; removed by `banger dns uninstall`.';

export function dropInText(at: DnsListen): string {
  const server = at.host.includes(':') ? `[${at.host}]:${at.port}` : `${at.host}:${at.port}`;
  return `${HEADER}\n[Resolve]\nDNS=${server}\nDomains=~${VM_DOMAIN}\n`;
}

export interface ResolvedState {
  active: boolean;
  /** banger's drop-in exists. */
  installed: boolean;
  /** It routes `vm` to this daemon's address. */
  current: boolean;
  path: string;
}

export function resolvedState(host: ResolvedHost, dropIn: string | null, at: DnsListen): ResolvedState {
  return { active: host.active(), installed: dropIn !== null, current: dropIn === dropInText(at), path: host.dropInPath };
}

/** The doctor line for `.vm` name resolution. */
export function resolvedCheck(s: ResolvedState, at: DnsListen): DoctorCheck {
  const name = 'vm dns';
  if (!s.active) {
    return s.installed
      ? { name, verdict: 'warn', detail: `${s.path} exists but systemd-resolved is not running`, fix: 'run `banger dns uninstall`, or start systemd-resolved' }
      : { name, verdict: 'pass', detail: `systemd-resolved not in use; banger answers NAME.vm on ${at.host}:${at.port} (\`banger ssh-config --install\` makes \`ssh NAME.vm\` work without it)` };
  }
  if (s.current) return { name, verdict: 'pass', detail: `systemd-resolved routes .vm to ${at.host}:${at.port}` };
  return {
    name,
    verdict: 'warn',
    detail: s.installed ? `${s.path} points at another address than ${at.host}:${at.port}` : 'systemd-resolved does not route .vm names to banger',
    fix: 'run `banger dns install` (needs root)',
  };
}

async function readOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export async function readState(host: ResolvedHost, at: DnsListen): Promise<ResolvedState> {
  return resolvedState(host, await readOrNull(host.dropInPath), at);
}

function denied(err: unknown, path: string): never {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    throw new BangerError('unavailable', `cannot write ${path} (${code}); bangerd needs root for this: run it as root, or add the drop-in by hand`, { cause: err });
  }
  throw err;
}

/** Writes the drop-in (when missing or different) and reloads resolved. */
export async function installResolved(host: ResolvedHost, at: DnsListen): Promise<{ path: string; changed: boolean }> {
  if (!host.active()) {
    throw new BangerError(
      'unavailable',
      `this host does not use systemd-resolved; point your resolver at ${at.host}:${at.port} for the vm domain (dnsmasq: server=/vm/${at.host}#${at.port}), or use \`banger ssh-config --install\``,
    );
  }
  const want = dropInText(at);
  if ((await readOrNull(host.dropInPath)) === want) return { path: host.dropInPath, changed: false };
  try {
    await mkdir(dirname(host.dropInPath), { recursive: true, mode: 0o755 });
    await writeFile(host.dropInPath, want, { mode: 0o644 });
  } catch (err) {
    denied(err, host.dropInPath);
  }
  await host.reload();
  return { path: host.dropInPath, changed: true };
}

export async function uninstallResolved(host: ResolvedHost): Promise<{ path: string; changed: boolean }> {
  if ((await readOrNull(host.dropInPath)) === null) return { path: host.dropInPath, changed: false };
  try {
    await rm(host.dropInPath, { force: true });
  } catch (err) {
    denied(err, host.dropInPath);
  }
  if (host.active()) await host.reload();
  return { path: host.dropInPath, changed: true };
}
