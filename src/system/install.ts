/**
 * Carries out system install, restart and uninstall: writes exactly the planned files (undoing this
 * run's writes on failure), drives systemd through the Systemctl seam and waits, bounded and with
 * progress lines, until bangerd-root and bangerd answer on their sockets.
 */
import { chownSync, existsSync, lstatSync, mkdirSync, rmdirSync, rmSync, unlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import { call } from '../api/client.js';
import { BangerError } from '../api/errors.js';
import { methods } from '../api/methods.js';
import { loadConfig } from '../config/load.js';
import { resolvePaths, type SystemPaths } from '../store/paths.js';
import { missingDirs, ownerStateDir, planInstall, planUninstall, withCreatedDirs, type Binaries } from './plan.js';
import { DaemonStatusSeen, HelperStatusSeen, type Probe } from './probe.js';
import { InstallRecord, readInstallRecord } from './record.js';
import type { Systemctl } from './systemctl.js';
import { DAEMON_UNIT, HELPER_UNIT } from './units.js';
import type { Owner } from './users.js';

export interface SystemDeps {
  sys: SystemPaths;
  systemctl: Systemctl;
  probe: Probe;
  binaries: Binaries;
  /** One progress line for a person. */
  out: (line: string) => void;
  /** How long to wait for both sockets. @default 30_000 */
  waitMs?: number;
}

const NOT_LIVE = (sc: Systemctl, verb: string) => `${sc.reason}: not ${verb} units (systemctl not run)`;
const HINTS = `see \`systemctl status ${HELPER_UNIT} ${DAEMON_UNIT}\` and \`journalctl -u ${HELPER_UNIT} -u ${DAEMON_UNIT} -n 50\``;

function readPrevious(file: string, out: (l: string) => void): InstallRecord | null {
  try {
    return readInstallRecord(file);
  } catch (err) {
    out(`replacing an unreadable install record (${(err as Error).message})`);
    return null;
  }
}

export async function install(owner: Owner, deps: SystemDeps): Promise<InstallRecord> {
  const { sys, out } = deps;
  for (const [what, p] of Object.entries(deps.binaries)) {
    if (!existsSync(p)) throw new BangerError('unavailable', `${what} ${p} does not exist; build banger first (node scripts/build.mjs) and run the install from that checkout`);
  }
  if (!existsSync(owner.home)) {
    throw new BangerError('bad_request', `${owner.name}'s home ${owner.home} does not exist (bangerd keeps its state there); create it (mkhomedir_helper ${owner.name}) and run the install again`);
  }
  // The helper validates against the owner's bridge CIDR and jail base: read them from the owner's config now.
  const ownerConfig = loadConfig(resolvePaths({ HOME: owner.home, XDG_RUNTIME_DIR: '/run' }));
  const ownerNetwork = { cidr: ownerConfig.network.cidr, jailerBase: ownerConfig.jailer.chrootBaseDir };
  const plan = planInstall({ owner, previous: readPrevious(sys.installRecord, out), sys, binaries: deps.binaries, freshId: randomBytes(4).toString('hex'), now: new Date(), ownerNetwork });
  for (const n of plan.notes) out(n);
  ensureOwnerStateDir(owner, plan.record.stateDir, out);

  // Write units, then the record (it lists them); a failure while writing removes what this run created.
  const created: string[] = [];
  const dirs = missingDirs([...plan.units.map((u) => u.path), sys.installRecord], sys.root, existsSync);
  const record = InstallRecord.parse(withCreatedDirs(plan.record, dirs));
  try {
    for (const d of dirs) {
      mkdirSync(d, { mode: 0o755 });
      created.push(d);
    }
    for (const f of [...plan.units, { path: sys.installRecord, content: `${JSON.stringify(record, null, 2)}\n`, mode: 0o644 }]) {
      const fresh = !existsSync(f.path);
      writeFileSync(f.path, f.content, { mode: f.mode });
      if (fresh) created.push(f.path);
      chmodSync(f.path, f.mode);
      out(`wrote ${f.path}`);
    }
  } catch (err) {
    for (const p of created.reverse()) rmSync(p, { recursive: true, force: true });
    throw err;
  }
  if (!deps.systemctl.live) {
    out(NOT_LIVE(deps.systemctl, 'starting'));
    return record;
  }
  // From here on the install stays in place on failure, so its units can be inspected and restarted.
  await deps.systemctl.daemonReload();
  await deps.systemctl.enable([HELPER_UNIT, DAEMON_UNIT]);
  // restart, not start: a re-install must run the units it just rewrote (VMs survive: KillMode=process).
  await restartUnits(deps);
  out(`enabled and started ${HELPER_UNIT} and ${DAEMON_UNIT}`);
  await waitForSockets(record, deps);
  return record;
}

/** The owner's state dir, created (owned by them, 0700) so bangerd-root.service can bind it at its first start. */
function ensureOwnerStateDir(owner: Owner, stateDir: string, out: (l: string) => void): void {
  if (existsSync(stateDir)) return;
  const parts = relative(owner.home, stateDir).split('/');
  let d = owner.home;
  for (const p of parts) {
    d = join(d, p);
    if (existsSync(d)) continue;
    mkdirSync(d, { mode: 0o700 });
    chownSync(d, owner.uid, owner.gid);
  }
  out(`created ${stateDir} (${owner.name}'s banger state; uninstall keeps it, --purge removes it)`);
}

/** systemctl restart of both units; a unit that fails to start is reported with where to look. */
async function restartUnits(deps: SystemDeps): Promise<void> {
  try {
    await deps.systemctl.restart([HELPER_UNIT, DAEMON_UNIT]);
  } catch (err) {
    throw new BangerError('unavailable', `${(err as Error).message}; the units stay installed: ${HINTS}, then \`sudo banger system restart\``, { cause: err });
  }
}

/** Polls both sockets until they answer, printing what it waits for; a bounded wait with hints on timeout. */
export async function waitForSockets(record: InstallRecord, deps: SystemDeps): Promise<void> {
  const waitMs = deps.waitMs ?? 30_000;
  const t0 = Date.now();
  const pending = [
    { name: 'bangerd-root', socket: record.helperSocket, method: 'helper.status', last: '' },
    { name: 'bangerd', socket: record.daemonSocket, method: 'daemon.status', last: '' },
  ];
  deps.out(`waiting up to ${waitMs / 1000}s for ${pending.map((p) => `${p.name} (${p.socket})`).join(' and ')} to answer`);
  let nextNote = t0 + 5000;
  while (pending.length > 0) {
    for (const p of [...pending]) {
      const r = await deps.probe(p.socket, p.method);
      if (!r.ok) {
        p.last = r.error;
        continue;
      }
      pending.splice(pending.indexOf(p), 1);
      deps.out(`${p.name} answers after ${((Date.now() - t0) / 1000).toFixed(1)}s${describeAnswer(p.method, r.result, record)}`);
    }
    if (pending.length === 0) return;
    if (Date.now() - t0 > waitMs) {
      const which = pending.map((p) => `${p.name} on ${p.socket} (last: ${p.last})`).join(', ');
      throw new BangerError('unavailable', `no answer within ${waitMs / 1000}s from ${which}; the units stay installed: ${HINTS}, then \`sudo banger system restart\``);
    }
    if (Date.now() > nextNote) {
      deps.out(`still waiting for ${pending.map((p) => `${p.name} (${p.last})`).join(', ')}`);
      nextNote += 5000;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

function describeAnswer(method: string, result: unknown, record: InstallRecord): string {
  if (method === 'helper.status') {
    const h = HelperStatusSeen.safeParse(result);
    if (!h.success) return ' (unexpected helper.status answer)';
    if (h.data.installId !== record.installId || h.data.ownerUid !== record.uid) {
      throw new BangerError('conflict', `bangerd-root answers for install ${h.data.installId} (owner uid ${h.data.ownerUid}), not ${record.installId} (uid ${record.uid}); run \`sudo banger system restart\``);
    }
    return ` (version ${h.data.version}, install ID ${h.data.installId})`;
  }
  const d = DaemonStatusSeen.safeParse(result);
  return d.success ? ` (pid ${d.data.pid}, ${d.data.vmsRunning} VMs running)` : '';
}

export async function restart(deps: SystemDeps): Promise<void> {
  const record = readInstallRecord(deps.sys.installRecord);
  if (!record) throw new BangerError('not_found', `no system install (${deps.sys.installRecord} is missing); run \`sudo banger system install\``);
  if (!deps.systemctl.live) return void deps.out(NOT_LIVE(deps.systemctl, 'restarting'));
  await restartUnits(deps);
  deps.out(`restarted ${HELPER_UNIT} and ${DAEMON_UNIT} (running VMs keep running and are adopted)`);
  await waitForSockets(record, deps);
}

export interface UninstallOpts {
  purge: boolean;
  force: boolean;
}

/** Stops and disables the units, then removes exactly the record's files and the directories install created. */
export async function uninstall(opts: UninstallOpts, deps: SystemDeps): Promise<void> {
  const { sys, out } = deps;
  const record = readInstallRecord(sys.installRecord);
  if (!record) return void out(`no system install (${sys.installRecord} is missing); nothing to remove`);
  const plan = planUninstall(record, sys);
  await stopRunningVms(record, opts, deps);
  if (deps.systemctl.live) {
    await deps.systemctl.disableNow([DAEMON_UNIT, HELPER_UNIT]);
    out(`stopped and disabled ${DAEMON_UNIT} and ${HELPER_UNIT}`);
  } else out(NOT_LIVE(deps.systemctl, 'stopping'));
  for (const f of plan.files) {
    let st;
    try {
      st = lstatSync(f);
    } catch {
      continue;
    }
    if (st.isDirectory()) {
      out(`skipped ${f}: a directory, not a file install wrote`);
      continue;
    }
    unlinkSync(f);
    out(`removed ${f}`);
  }
  for (const d of plan.dirs) {
    try {
      rmdirSync(d);
      out(`removed ${d}/`);
    } catch {
      // not empty (someone else's files) or already gone: keep it
    }
  }
  if (deps.systemctl.live) await deps.systemctl.daemonReload();
  if (opts.purge) {
    if (record.stateDir !== ownerStateDir(record.home)) throw new BangerError('conflict', `state dir ${record.stateDir} is not ${ownerStateDir(record.home)}; not purging it`);
    rmSync(record.stateDir, { recursive: true, force: true });
    out(`purged ${record.stateDir}`);
  } else if (existsSync(record.stateDir)) out(`kept ${record.stateDir} (${record.owner}'s images, kernels and VMs; --purge removes it)`);
}

/**
 * Uninstall leaves no VM behind unknowingly: with VMs running it refuses unless --force, which stops
 * them through bangerd first. --purge needs bangerd's answer (or --force) since it deletes their disks.
 */
async function stopRunningVms(record: InstallRecord, opts: UninstallOpts, deps: SystemDeps): Promise<void> {
  const r = await deps.probe(record.daemonSocket, 'daemon.status');
  const status = r.ok ? DaemonStatusSeen.safeParse(r.result) : null;
  if (!status?.success) {
    const why = r.ok ? 'an unexpected daemon.status answer' : r.error;
    if (opts.purge && !opts.force) {
      throw new BangerError('conflict', `cannot tell whether VMs are running: bangerd does not answer on ${record.daemonSocket} (${why}); start it (\`sudo banger system restart\`) and retry, or pass --force`);
    }
    deps.out(`bangerd does not answer (${why}); not checking for running VMs`);
    return;
  }
  if (status.data.vmsRunning === 0) return;
  const vms = (await call(record.daemonSocket, 'vm.list', {}, {}, methods)).vms.filter((v) => v.state !== 'stopped');
  if (!opts.force) {
    throw new BangerError('conflict', `${vms.length} VM(s) running: ${vms.map((v) => v.name).join(', ')}; stop them (\`banger vm stop NAME\`) or pass --force to stop them now`);
  }
  for (const v of vms) {
    deps.out(`stopping VM ${v.name}`);
    await call(record.daemonSocket, 'vm.stop', { name: v.name, timeoutMs: 30_000 }, {}, methods);
  }
}

