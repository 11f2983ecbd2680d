/**
 * `banger doctor`, whole: the one list of checks and the order they come in. Rows this process can
 * judge itself (host tools and KVM, doctor/host.ts; the system install, doctor/system.ts) come first,
 * then the daemon: whether it answers, and the rows only it can judge (config warnings, the default
 * image and kernel, name resolution, bridge access; `daemon.doctor`). The CLI only renders the list.
 *
 * Layer: above hypervisor/ and system/ (it reads their facts), below cli/.
 */
import type { DaemonStatus, DoctorCheck } from '../api/daemon.js';
import type { Paths } from '../store/paths.js';
import type { SystemStatus } from '../system/status.js';
import { evaluate, gatherFacts } from './host.js';
import { systemChecks } from './system.js';

export type { DoctorCheck } from '../api/daemon.js';

export interface DoctorDeps {
  /** This user's install (the state and runtime dirs must be writable). */
  paths: Paths;
  /** Who runs doctor (root, the install's owner, someone else). */
  uid: number;
  systemStatus(): Promise<SystemStatus>;
  /** The daemon's status; rejects when it cannot be reached or started. */
  daemonStatus(): Promise<DaemonStatus>;
  /** The daemon's own rows. */
  daemonChecks(): Promise<DoctorCheck[]>;
}

export async function runDoctor(d: DoctorDeps): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = evaluate(await gatherFacts(d.paths));
  checks.push(...systemChecks(await d.systemStatus(), d.uid));
  checks.push(...(await daemonRows(d)));
  return checks;
}

/** The daemon answers (pid, hypervisor, accelerator) and its own rows, or one failing row saying where to look. */
export async function daemonRows(d: Pick<DoctorDeps, 'paths' | 'daemonStatus' | 'daemonChecks'>): Promise<DoctorCheck[]> {
  try {
    const s = await d.daemonStatus();
    return [{ name: 'daemon', verdict: 'pass', detail: `pid ${s.pid}, ${s.hypervisor} with ${s.accel}` }, ...(await d.daemonChecks())];
  } catch (err) {
    return [{ name: 'daemon', verdict: 'fail', detail: (err as Error).message, fix: `see ${d.paths.daemonLog}` }];
  }
}

/** Any failing row makes doctor exit non-zero. */
export const doctorFailed = (checks: readonly DoctorCheck[]): boolean => checks.some((c) => c.verdict === 'fail');
