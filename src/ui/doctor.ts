/**
 * The doctor page's checks: `banger doctor`'s whole list (doctor/doctor.ts runDoctor: host tools and
 * KVM, the system install, then the daemon's own rows), judged in the daemon's process, which runs as
 * the same user as the CLI would. The daemon's rows come through its own dispatch.
 */
import { PassThrough, Writable } from 'node:stream';
import type { DaemonStatus, DoctorCheck } from '../api/daemon.js';
import type { CallContext, Dispatch } from '../daemon/server.js';
import { runDoctor } from '../doctor/doctor.js';
import { systemPaths, type Paths } from '../store/paths.js';
import { bangerBinaries } from '../system/plan.js';
import { probeSocket } from '../system/probe.js';
import { gatherStatus } from '../system/status.js';
import { noSystemctl, realSystemctl, systemdRunning } from '../system/systemctl.js';

/** A call context for an internal call: no progress, no stdin, output dropped. */
function quietContext(): CallContext {
  const stdin = new PassThrough();
  stdin.end();
  return { progress: () => {}, signal: new AbortController().signal, stdin, write: () => {}, output: () => new Writable({ write: (_c, _e, done) => done() }) };
}

export function doctorChecks(paths: Paths, dispatch: Dispatch): Promise<DoctorCheck[]> {
  return runDoctor({
    paths,
    uid: process.getuid?.() ?? -1,
    systemStatus: () => {
      const systemctl = systemdRunning() && !process.env.BANGER_SYSTEM_ROOT ? realSystemctl() : noSystemctl('systemd is not running');
      return gatherStatus({ sys: systemPaths(), systemctl, probe: probeSocket, binaries: bangerBinaries() });
    },
    daemonStatus: () => dispatch('daemon.status', {}, quietContext()) as Promise<DaemonStatus>,
    daemonChecks: () => dispatch('daemon.doctor', {}, quietContext()) as Promise<DoctorCheck[]>,
  });
}
