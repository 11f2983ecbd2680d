/**
 * Where bridge mode's root work happens, decided once at daemon start: in this process when bangerd
 * is root; through bangerd-root when a helper socket is configured (env BANGER_HELPER_SOCKET, else the
 * install record's helperSocket when the record's owner is this uid); otherwise nowhere, and bridge
 * mode is refused with a message naming `sudo banger system install`.
 */
import { createHash } from 'node:crypto';
import type { DoctorCheck } from '../api/daemon.js';
import { installResolved, uninstallResolved, type DnsListen, type ResolvedHost } from './resolved.js';
import { callHelper } from '../rootd/client.js';
import type { Logger } from '../host/logger.js';
import { systemPaths } from '../store/paths.js';
import { readInstallRecord, type InstallRecord } from '../system/record.js';
import { createBridgeOps, type BridgeOps } from './bridge.js';
import { createHelperOps } from './helper-ops.js';
import { NEEDS_HELPER } from '../hypervisor/choice.js';

/** The helper socket bangerd should use, or null (pure). */
export function helperSocketFor(env: NodeJS.ProcessEnv, uid: number, record: InstallRecord | null): string | null {
  if (env.BANGER_HELPER_SOCKET) return env.BANGER_HELPER_SOCKET;
  if (record && record.uid === uid) return record.helperSocket;
  return null;
}

/** The id tagging this install's bridge and rules: the record's for its owner, else derived from the state dir (pure). */
export function localInstallId(uid: number, record: InstallRecord | null, stateDir: string): string {
  if (record && record.uid === uid) return record.installId;
  return createHash('sha256').update(stateDir).digest('hex').slice(0, 8);
}

export interface ResolverWiring {
  install(at: DnsListen): Promise<{ path: string; changed: boolean }>;
  uninstall(): Promise<{ path: string; changed: boolean }>;
}

export interface BridgeAccess {
  via: 'root' | 'helper' | 'none';
  helperSocket: string | null;
  /** Absent when there is no way to change the host (via none). */
  ops?: BridgeOps;
  cannotBridge: () => string | null;
  /** Writing systemd-resolved's drop-in: in-process as root, through the helper otherwise. */
  resolver: ResolverWiring;
}

export function bridgeAccess(o: { uid: number; env: NodeJS.ProcessEnv; record: InstallRecord | null; stateDir: string; resolved: ResolvedHost }): BridgeAccess {
  const local: ResolverWiring = { install: (at) => installResolved(o.resolved, at), uninstall: () => uninstallResolved(o.resolved) };
  if (o.uid === 0) {
    return { via: 'root', helperSocket: null, ops: createBridgeOps({ installId: localInstallId(o.uid, o.record, o.stateDir) }), cannotBridge: () => null, resolver: local };
  }
  const socket = helperSocketFor(o.env, o.uid, o.record);
  if (!socket) return { via: 'none', helperSocket: null, cannotBridge: () => NEEDS_HELPER, resolver: local };
  return {
    via: 'helper',
    helperSocket: socket,
    ops: createHelperOps(socket),
    cannotBridge: () => null,
    resolver: {
      install: (at) => callHelper(socket, 'resolver.wire', { host: at.host, port: at.port }),
      uninstall: () => callHelper(socket, 'resolver.unwire', {}),
    },
  };
}

/** bridgeAccess for this process: reads the install record (an unreadable one is logged, and ignored). */
export function loadBridgeAccess(o: { stateDir: string; resolved: ResolvedHost; log: Logger; env?: NodeJS.ProcessEnv }): BridgeAccess {
  const env = o.env ?? process.env;
  let record: InstallRecord | null = null;
  try {
    record = readInstallRecord(systemPaths(env).installRecord);
  } catch (err) {
    o.log.warn({ err: (err as Error).message }, 'install record unreadable; bridge mode only as root');
  }
  const access = bridgeAccess({ uid: process.getuid?.() ?? 0, env, record, stateDir: o.stateDir, resolved: o.resolved });
  o.log.info({ via: access.via, helperSocket: access.helperSocket }, 'bridge networking');
  return access;
}

/** The doctor line for bridge mode: where its root work happens, and whether the helper answers. */
export async function bridgeCheck(access: BridgeAccess): Promise<DoctorCheck> {
  const name = 'bridge networking';
  if (access.via === 'root') return { name, verdict: 'pass', detail: 'bangerd runs as root: bridge, taps and NAT rules are made in-process' };
  if (access.via === 'none') {
    return { name, verdict: 'warn', detail: 'bangerd is not root and bangerd-root is not installed: --network bridge is refused (user mode works)', fix: 'run `sudo banger system install`' };
  }
  try {
    const s = await callHelper(access.helperSocket!, 'helper.status', {}, { timeoutMs: 3000 });
    return { name, verdict: 'pass', detail: `bangerd-root ${s.version} (pid ${s.pid}) answers on ${access.helperSocket}; install ${s.installId}, guests in ${s.cidr}` };
  } catch (err) {
    return { name, verdict: 'fail', detail: (err as Error).message, fix: 'run `sudo banger system restart` (or `sudo banger system install`)' };
  }
}
