/**
 * One state directory, one daemon. When a system install runs this user's bangerd
 * (bangerd.service), a second bangerd started by hand or by a CLI with BANGER_NO_SYSTEM on the same
 * state dir would open the same database and adopt the same VMs; bangerd refuses that at start
 * (daemon/main.ts, when the system daemon answers: a record alone, as tests write, does not block).
 */
import type { InstallRecord } from './record.js';

/** The refusal for a bangerd about to serve `socket` over `stateDir` as `uid` while the system daemon runs; null when it may run. */
export function systemInstallClash(record: InstallRecord | null, uid: number, socket: string, stateDir: string): string | null {
  if (!record || record.uid !== uid || socket === record.daemonSocket || stateDir !== record.stateDir) return null;
  return (
    `bangerd.service (the system install) runs ${record.owner}'s banger on ${stateDir}; a second bangerd on the same state dir is refused. ` +
    'Use the system daemon (`banger system status`, `sudo banger system restart`), or set XDG_STATE_HOME to another directory for a separate private daemon'
  );
}
