/**
 * The live facts of a system install, gathered once for `banger system status` and `banger doctor`:
 * the record, each unit file (present, equal to what this banger renders, hardening lines kept),
 * what systemd says of each unit, and whether both sockets answer.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { SystemPaths } from '../store/paths.js';
import { unitInputs, unitPath, type Binaries } from './plan.js';
import { DaemonStatusSeen, HelperStatusSeen, type Probe } from './probe.js';
import { InstallRecord, readInstallRecord } from './record.js';
import type { Systemctl } from './systemctl.js';
import { hardeningOf, renderUnit, UNITS, unitLines } from './units.js';

export const UnitFacts = z
  .object({
    unit: z.string(),
    path: z.string(),
    present: z.boolean(),
    /** The file equals what this banger renders now (null when absent). */
    matches: z.boolean().nullable(),
    /** Hardening `Key=value` lines the file lacks. */
    missingHardening: z.array(z.string()),
    /** systemctl is-active; "unknown" under --root or without systemd. */
    state: z.string(),
  })
  .strict();

export const SocketFacts = z.object({ socket: z.string(), answering: z.boolean(), detail: z.string() }).strict();

/** `banger system status --json`. */
export const SystemStatus = z
  .object({
    installed: z.boolean(),
    recordFile: z.string(),
    /** Why the record could not be read, when it exists but is broken. */
    recordError: z.string().optional(),
    record: InstallRecord.nullable(),
    units: z.array(UnitFacts),
    daemon: SocketFacts.nullable(),
    helper: SocketFacts.nullable(),
  })
  .strict();
export type SystemStatus = z.infer<typeof SystemStatus>;

export interface StatusDeps {
  sys: SystemPaths;
  systemctl: Systemctl;
  probe: Probe;
  binaries: Binaries;
}

export async function gatherStatus(deps: StatusDeps): Promise<SystemStatus> {
  const { sys } = deps;
  let record: InstallRecord | null = null;
  let recordError: string | undefined;
  try {
    record = readInstallRecord(sys.installRecord);
  } catch (err) {
    recordError = (err as Error).message;
  }
  const units = [];
  for (const unit of UNITS) {
    const path = unitPath(sys, unit);
    let text: string | null = null;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      text = null;
    }
    let matches: boolean | null = null;
    let missingHardening: string[] = [];
    if (text !== null && record) {
      const inputs = unitInputs(record, deps.binaries);
      matches = text === renderUnit(inputs, unit);
      const have = new Set(unitLines(text));
      missingHardening = hardeningOf(inputs, unit)
        .map((d) => `${d.key}=${d.value}`)
        .filter((l) => !have.has(l));
    }
    units.push({ unit, path, present: text !== null, matches, missingHardening, state: await deps.systemctl.isActive(unit) });
  }
  let daemon = null;
  let helper = null;
  if (record) {
    const d = await deps.probe(record.daemonSocket, 'daemon.status');
    const ds = d.ok ? DaemonStatusSeen.safeParse(d.result) : null;
    daemon = { socket: record.daemonSocket, answering: !!ds?.success, detail: ds?.success ? `pid ${ds.data.pid}, version ${ds.data.version}, ${ds.data.vmsRunning} VMs running` : d.ok ? 'unexpected answer' : d.error };
    const h = await deps.probe(record.helperSocket, 'helper.status');
    const hs = h.ok ? HelperStatusSeen.safeParse(h.result) : null;
    const idOk = hs?.success && hs.data.installId === record.installId && hs.data.ownerUid === record.uid;
    helper = {
      socket: record.helperSocket,
      answering: !!idOk,
      detail: hs?.success ? (idOk ? `version ${hs.data.version}, install ID ${hs.data.installId}` : `answers for install ${hs.data.installId} (owner uid ${hs.data.ownerUid}), not this one`) : h.ok ? 'unexpected answer' : h.error,
    };
  }
  return { installed: record !== null, recordFile: sys.installRecord, ...(recordError ? { recordError } : {}), record, units, daemon, helper };
}

/** Human lines for `banger system status`. */
export function renderStatus(s: SystemStatus): string[] {
  if (!s.record) {
    const lines = [`installed:   no (${s.recordFile} ${s.recordError ? `is unreadable: ${s.recordError}` : 'is missing'})`];
    for (const u of s.units.filter((x) => x.present)) lines.push(`leftover:    ${u.path}`);
    return [...lines, 'install:     sudo banger system install [--owner USER]'];
  }
  const r = s.record;
  const lines = [`installed:   yes, ${r.installedAt}`, `owner:       ${r.owner} (uid ${r.uid}, gid ${r.gid})`, `install ID:  ${r.installId}`, `state dir:   ${r.stateDir}`];
  for (const u of s.units) {
    const file = !u.present ? 'file missing' : u.matches ? 'file current' : `file differs from this banger's${u.missingHardening.length ? `, lacks ${u.missingHardening.join(' ')}` : ''}`;
    lines.push(`${u.unit.padEnd(21)}${u.state}; ${file}`);
  }
  lines.push(`bangerd:     ${s.daemon!.answering ? 'answers' : 'does not answer'} on ${s.daemon!.socket} (${s.daemon!.detail})`);
  lines.push(`helper:      ${s.helper!.answering ? 'answers' : 'does not answer'} on ${s.helper!.socket} (${s.helper!.detail})`);
  return lines;
}
