/**
 * `banger doctor`'s system-install rows: a pure function of SystemStatus (system/status.ts) and who
 * runs doctor, so the table of verdicts is unit-tested without systemd.
 */
import type { DoctorCheck } from '../api/daemon.js';
import type { SystemStatus } from '../system/status.js';

const INSTALL = 'sudo banger system install';
const RESTART = 'sudo banger system restart (see `banger system status` and `journalctl -u bangerd -u bangerd-root`)';

export function systemChecks(s: SystemStatus, uid: number): DoctorCheck[] {
  if (!s.record) {
    if (s.recordError) return [{ name: 'system install', verdict: 'fail', detail: s.recordError, fix: INSTALL }];
    return uid === 0
      ? [{ name: 'system install', verdict: 'pass', detail: 'none; running as root, bridge mode works without the helper' }]
      : [{ name: 'system install', verdict: 'warn', detail: 'none: bridge networking needs the root helper', fix: `${INSTALL} (user-mode networking works without it)` }];
  }
  const r = s.record;
  const checks: DoctorCheck[] = [
    {
      name: 'system install',
      verdict: 'pass',
      detail: `owner ${r.owner} (uid ${r.uid}), install ${r.installId}${r.uid === uid ? '' : '; this user is not the owner, so the CLI uses a private daemon'}`,
    },
  ];
  for (const u of s.units) {
    if (!u.present) {
      checks.push({ name: u.unit, verdict: 'fail', detail: `${u.path} is missing`, fix: INSTALL });
      continue;
    }
    if (u.missingHardening.length > 0) checks.push({ name: u.unit, verdict: 'fail', detail: `hardening lines missing: ${u.missingHardening.join(' ')}`, fix: `${INSTALL} (rewrites the unit)` });
    else if (!u.matches) checks.push({ name: u.unit, verdict: 'warn', detail: 'hardening present, but the file differs from what this banger writes', fix: `${INSTALL} (rewrites the unit)` });
    else checks.push({ name: u.unit, verdict: 'pass', detail: 'unit file current, hardening present' });
    if (u.state === 'unknown') checks.push({ name: `${u.unit} state`, verdict: 'warn', detail: 'unknown (systemd is not running here)' });
    else if (u.state !== 'active') checks.push({ name: `${u.unit} state`, verdict: 'fail', detail: u.state, fix: RESTART });
  }
  const h = s.helper!;
  if (uid !== 0 && uid !== r.uid) checks.push({ name: 'root helper', verdict: 'warn', detail: `only root and ${r.owner} may ask ${h.socket}` });
  else checks.push(h.answering ? { name: 'root helper', verdict: 'pass', detail: `${h.socket}: ${h.detail}` } : { name: 'root helper', verdict: 'fail', detail: `${h.socket}: ${h.detail}`, fix: RESTART });
  return checks;
}
