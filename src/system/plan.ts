/**
 * What `system install` writes and what `system uninstall` removes, decided without touching the
 * host: the install record (installId kept across re-installs) and the files with their content
 * and mode; for uninstall, exactly the record's files and the directories it created, each checked
 * to lie in banger's own system directories so a tampered record cannot aim uninstall elsewhere.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BangerError } from '../api/errors.js';
import { resolvePaths, type SystemPaths } from '../store/paths.js';
import type { InstallRecord } from './record.js';
import { DAEMON_UNIT, HELPER_UNIT, renderUnit, UNITS, type UnitInputs, type UnitName } from './units.js';
import type { Owner } from './users.js';

export interface Binaries {
  node: string;
  daemonEntry: string;
  helperEntry: string;
}

/** This checkout's node and entry points (dist/system/plan.js → dist/daemon/main.js, dist/rootd/main.js). */
export function bangerBinaries(): Binaries {
  const dist = join(dirname(fileURLToPath(import.meta.url)), '..');
  return { node: process.execPath, daemonEntry: join(dist, 'daemon', 'main.js'), helperEntry: join(dist, 'rootd', 'main.js') };
}

export interface PlannedFile {
  path: string;
  content: string;
  mode: number;
}

export interface InstallPlan {
  /** The record to write, except `dirs` (known only once the executor has looked at the disk). */
  record: InstallRecord;
  /** Unit files first; the record is written last by the executor. */
  units: PlannedFile[];
  /** Lines worth telling the user (owner change, re-install). */
  notes: string[];
}

export interface InstallPlanInput {
  owner: Owner;
  previous: InstallRecord | null;
  sys: SystemPaths;
  binaries: Binaries;
  /** A fresh id, used only when there is no previous record. */
  freshId: string;
  now: Date;
  /** From the owner's config.toml, for the helper's validation (absent: the helper's defaults). */
  ownerNetwork?: { cidr: string; jailerBase: string };
}

export const unitPath = (sys: SystemPaths, unit: UnitName) => join(sys.unitDir, unit);

/** The owner's banger state dir as bangerd.service sees it (XDG defaults under the owner's home). */
export const ownerStateDir = (home: string) => resolvePaths({ HOME: home, XDG_RUNTIME_DIR: '/run' }).stateDir;

export function unitInputs(record: InstallRecord, binaries: Binaries): UnitInputs {
  return { record, ...binaries };
}

export function planInstall(i: InstallPlanInput): InstallPlan {
  const notes: string[] = [];
  const prev = i.previous;
  if (prev) notes.push(`re-install: keeping install ID ${prev.installId}`);
  if (prev && prev.owner !== i.owner.name) notes.push(`owner changes from ${prev.owner} to ${i.owner.name}`);
  const units = UNITS.map((u) => unitPath(i.sys, u));
  const files = [...units, i.sys.installRecord];
  const record: InstallRecord = {
    version: 1,
    installId: prev?.installId ?? i.freshId,
    owner: i.owner.name,
    uid: i.owner.uid,
    gid: i.owner.gid,
    home: i.owner.home,
    stateDir: ownerStateDir(i.owner.home),
    daemonSocket: i.sys.daemonSocket,
    helperSocket: i.sys.helperSocket,
    ...(i.ownerNetwork ? { cidr: i.ownerNetwork.cidr, jailerBase: i.ownerNetwork.jailerBase } : {}),
    // A previous install's files stay listed even if this one no longer writes them, so uninstall still removes them.
    files: [...new Set([...files, ...(prev?.files ?? [])])],
    dirs: prev?.dirs,
    installedAt: i.now.toISOString(),
  };
  const inputs = unitInputs(record, i.binaries);
  return {
    record,
    units: [
      { path: unitPath(i.sys, HELPER_UNIT), content: renderUnit(inputs, HELPER_UNIT), mode: 0o644 },
      { path: unitPath(i.sys, DAEMON_UNIT), content: renderUnit(inputs, DAEMON_UNIT), mode: 0o644 },
    ],
    notes,
  };
}

/** The record with the directories this run created added to those earlier runs created. */
export function withCreatedDirs(record: InstallRecord, created: readonly string[]): InstallRecord {
  const dirs = [...new Set([...(record.dirs ?? []), ...created])];
  return { ...record, dirs };
}

/** Directories to create before writing `files`, shallowest first; `exists` is the disk. */
export function missingDirs(files: readonly string[], root: string, exists: (p: string) => boolean): string[] {
  const out: string[] = [];
  for (const f of files) {
    const chain: string[] = [];
    for (let d = dirname(f); d !== root && d !== dirname(d) && !exists(d); d = dirname(d)) chain.unshift(d);
    for (const d of chain) if (!out.includes(d)) out.push(d);
  }
  return out;
}

export interface UninstallPlan {
  /** Files to unlink, the record last. */
  files: string[];
  /** Directories to remove if empty, deepest first. */
  dirs: string[];
}

/** Refuses any listed path outside /etc/banger and the unit directory (under the install root). */
export function planUninstall(record: InstallRecord, sys: SystemPaths): UninstallPlan {
  const etcBanger = dirname(sys.installRecord);
  const inside = (p: string, dir: string) => p.startsWith(`${dir}/`) && !p.split('/').includes('..');
  for (const f of record.files) {
    if (!(inside(f, etcBanger) || inside(f, sys.unitDir))) {
      throw new BangerError('conflict', `${sys.installRecord} lists ${f}, outside ${etcBanger} and ${sys.unitDir}; refusing to remove it (fix or delete the record by hand)`);
    }
  }
  const underRoot = (d: string) => sys.root === '/' || d.startsWith(`${sys.root.replace(/\/$/, '')}/`);
  for (const d of record.dirs ?? []) {
    if (!underRoot(d) || d.split('/').includes('..')) throw new BangerError('conflict', `${sys.installRecord} lists directory ${d} outside the install root; refusing to remove it`);
  }
  const files = [...record.files.filter((f) => f !== sys.installRecord), sys.installRecord];
  const dirs = [...new Set([...(record.dirs ?? []), etcBanger])].sort((a, b) => b.split('/').length - a.split('/').length);
  return { files, dirs };
}
