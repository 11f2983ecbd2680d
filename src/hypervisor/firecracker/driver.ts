/**
 * The Firecracker driver: owns one firecracker process per VM and talks to it over its API socket.
 *
 * start: spawn `firecracker --api-sock <runtimeDir>/api.sock` (umask 077, so the sockets and snapshot
 * files it creates are owner-only), wait until the API answers, then send the boot requests (or
 * logger + snapshot/load for a restore). The guest console is the process's stdout, sent to the
 * serial log; Firecracker's own log goes to spec.logPath via PUT /logger.
 * Request bodies are built in requests.ts and checked against the published spec in contract.host.test.ts.
 */
import { closeSync, openSync } from 'node:fs';
import { chown, copyFile, link, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BangerError } from '../../api/errors.js';
import { pidAlive, run, spawnProcess, which } from '../../host/exec.js';
import type { Logger } from '../../host/logger.js';
import { readCmdline } from '../../host/procstat.js';
import { VM_RUNTIME_FILES, checkSocketPath } from '../../store/paths.js';
import type { Driver, DriverInfo, SnapshotManager, VmHandles, VmSpec } from '../driver.js';
import { createApiClient } from './api.js';
import { rawDisks } from './disk.js';
import { DEFAULT_CHROOT_BASE, JAIL_API_SOCKET, jailLayout, jailerArgv, type JailLayout, type JailerConfig, type JailerHost } from './jailer.js';
import {
  buildBootRequests,
  buildPauseRequests,
  buildRestoreRequests,
  buildResumeRequests,
  buildSaveStateRequests,
  buildStopRequests,
  checkSpecForFirecracker,
  snapshotFiles,
  type ApiRequest,
} from './requests.js';
import { NETWORK_OVERRIDES_SINCE, atLeast, checkFirecrackerVersion, parseFirecrackerVersion, type FirecrackerVersion } from './version.js';

export interface FirecrackerDriverOptions {
  /** The firecracker binary (a path, or a name looked up on PATH). */
  bin: string;
  jailer?: JailerConfig;
  log: Logger;
  /** How long to wait for the API socket after spawning. @default 10000 */
  socketTimeoutMs?: number;
  /** Grace between SIGTERM and SIGKILL in kill(). @default 5000 */
  killGraceMs?: number;
}

/** What the driver adds to VmHandles (persisted by the caller in handles.json). */
export interface FirecrackerHandles extends VmHandles {
  driver: 'firecracker';
  /** Host side of the guest's vsock. */
  vsockSocket: string;
  firecrackerVersion: string;
  /** A string that must appear in /proc/<pid>/cmdline for the pid to still be ours. */
  cmdlineMarker: string;
  /** Jail root on the host when the jailer runs the VM. */
  jailRoot?: string;
}

const SHELL_UMASK = ['sh', '-c', 'umask 077; exec "$@"', 'sh'];

export const FIRECRACKER_FEATURES = {
  snapshots: true,
  needsRoot: true,
  accelerators: ['kvm'],
  userNetworking: false,
  diskFormats: ['raw'],
} as const satisfies DriverInfo['features'];

export function createFirecrackerDriver(opts: FirecrackerDriverOptions): Driver & { snapshots: SnapshotManager } {
  const socketTimeoutMs = opts.socketTimeoutMs ?? 10_000;
  const killGraceMs = opts.killGraceMs ?? 5_000;
  const jailer = opts.jailer?.enabled ? opts.jailer : undefined;
  let versionProbe: Promise<FirecrackerVersion> | undefined;

  function version(): Promise<FirecrackerVersion> {
    versionProbe ??= probeVersion(opts.bin).catch((err) => {
      versionProbe = undefined; // let a later call retry (the user may install it meanwhile)
      throw err;
    });
    return versionProbe;
  }

  async function info(): Promise<DriverInfo> {
    const v = await version();
    const features = { ...FIRECRACKER_FEATURES, accelerators: [...FIRECRACKER_FEATURES.accelerators], diskFormats: [...FIRECRACKER_FEATURES.diskFormats] };
    return { name: 'firecracker', version: v.text, features };
  }

  async function start(spec: VmSpec, log: Logger): Promise<FirecrackerHandles> {
    checkSpecForFirecracker(spec);
    if (spec.accel !== 'kvm') {
      throw new BangerError('bad_request', 'Firecracker needs KVM (accel=kvm); on a host without usable KVM run the VM on QEMU (hypervisor = "qemu")');
    }
    const v = await version();
    const verdict = checkFirecrackerVersion(v);
    if (verdict.level === 'error') throw new BangerError('unavailable', verdict.messages.join('; '));
    for (const message of verdict.messages) log.warn({ version: v.text }, message);
    if (spec.restoreFrom) await requireSnapshotFiles(spec.restoreFrom);

    const jail = jailer ? jailLayout(spec, { firecrackerBin: opts.bin, chrootBaseDir: jailer.chrootBaseDir ?? DEFAULT_CHROOT_BASE }) : undefined;
    const apiSocket = checkSocketPath(jail ? jail.apiSocketOnHost : join(spec.runtimeDir, VM_RUNTIME_FILES.api));
    const vsockSocket = checkSocketPath(jail ? jail.vsockOnHost : join(spec.runtimeDir, VM_RUNTIME_FILES.vsock));
    // Stale sockets from an earlier run make bind() fail.
    await rm(apiSocket, { force: true });
    await rm(vsockSocket, { force: true });
    // Firecracker opens log_path without creating it, and writes from offset 0: start each run empty.
    await writeFile(spec.logPath, '', { mode: 0o600 });
    const uid = jailer?.uid ?? process.getuid?.() ?? 0;
    const gid = jailer?.gid ?? process.getgid?.() ?? 0;
    if (jail) await populateJail(jail, uid, gid);

    const netns = spec.network.mode === 'bridge' ? spec.network.netns : undefined;
    // --id names the instance in Firecracker's log; the jailer passes its own.
    const idArgs = jail || !/^[A-Za-z0-9-]{1,64}$/.test(spec.id) ? [] : ['--id', spec.id];
    const fcArgs = ['--api-sock', jail ? JAIL_API_SOCKET : apiSocket, ...idArgs];
    const argv = jail
      ? [
          ...SHELL_UMASK,
          ...jailerArgv({
            jailerBin: jailer!.bin,
            firecrackerBin: opts.bin,
            id: spec.id,
            uid,
            gid,
            chrootBaseDir: jailer!.chrootBaseDir ?? DEFAULT_CHROOT_BASE,
            netns,
            firecrackerArgs: fcArgs,
          }),
        ]
      : [...SHELL_UMASK, opts.bin, ...fcArgs];
    const serialFd = openSync(spec.serialLogPath, 'a', 0o600);
    let proc: { pid: number; exit: Promise<number> };
    try {
      // Not root: bangerd-root starts the jailer (as root, dropping to the owner); its exit is watched by pid.
      proc = jail && jailer?.host ? await spawnViaHost(jailer.host, spec, opts.bin, jailer, netns) : spawnProcess(argv, {
        detached: true,
        stdio: ['ignore', serialFd, serialFd],
        // The jailer joins the namespace itself (--netns); plain firecracker runs under `ip netns exec`.
        netns: jail ? undefined : netns,
      });
    } finally {
      closeSync(serialFd);
    }
    log.info({ pid: proc.pid, apiSocket, jailed: !!jail }, 'firecracker spawned');

    const api = createApiClient(apiSocket);
    let pid = proc.pid;
    try {
      await waitForApi(api, proc.exit, { timeoutMs: socketTimeoutMs, serialLogPath: spec.serialLogPath, jailed: !!jail });
      if (jail) pid = await jailedPid(jail, opts.bin, proc.pid);
      const requests: ApiRequest[] = spec.restoreFrom
        ? buildRestoreRequests(spec, { networkOverrides: atLeast(v, NETWORK_OVERRIDES_SINCE), mapPath: jail?.mapPath })
        : buildBootRequests(spec, { vsockPath: vsockSocket, mapPath: jail?.mapPath });
      await api.sendAll(requests);
    } catch (err) {
      await forceStop(pid, killGraceMs);
      if (pid !== proc.pid) await forceStop(proc.pid, killGraceMs);
      if (jail) await rm(jail.vmDir, { recursive: true, force: true });
      throw err;
    }
    log.info({ pid, restored: !!spec.restoreFrom }, spec.restoreFrom ? 'firecracker restored the VM' : 'firecracker started the VM');
    return {
      driver: 'firecracker',
      pid,
      controlSocket: apiSocket,
      accel: 'kvm',
      startedAt: new Date().toISOString(),
      vsockSocket,
      firecrackerVersion: v.text,
      cmdlineMarker: jail ? spec.id : apiSocket,
      ...(jail ? { jailRoot: jail.rootDir } : {}),
    };
  }

  function isRunning(handles: VmHandles): boolean {
    return processIsOurs(handles.pid, typeof handles.cmdlineMarker === 'string' ? handles.cmdlineMarker : handles.controlSocket);
  }

  async function afterExit(handles: VmHandles): Promise<void> {
    await rm(handles.controlSocket, { force: true });
    if (typeof handles.vsockSocket === 'string') await rm(handles.vsockSocket, { force: true });
    // The jailer leaves <base>/<exec>/<id>/ behind; only hard links live there, the VM's files stay.
    if (typeof handles.jailRoot === 'string') {
      const vmDir = dirname(handles.jailRoot);
      // Its device nodes are root's: bangerd-root removes the directory when it made it.
      if (jailer?.host) await jailer.host.clean({ vmId: basename(vmDir), firecrackerBin: await absolute(opts.bin), chrootBase: dirname(dirname(vmDir)) });
      else await rm(vmDir, { recursive: true, force: true });
    }
  }

  async function requestPowerOff(handles: VmHandles, timeoutMs: number): Promise<boolean> {
    if (!isRunning(handles)) {
      await afterExit(handles);
      return true;
    }
    try {
      await createApiClient(handles.controlSocket).sendAll(buildStopRequests());
    } catch (err) {
      // It may have exited between the check and the request; anything else is worth reporting.
      if (isRunning(handles)) throw err;
    }
    const exited = await waitForExit(() => isRunning(handles), timeoutMs);
    if (exited) await afterExit(handles);
    return exited;
  }

  async function kill(handles: VmHandles, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (isRunning(handles)) {
      signalPid(handles.pid, signal);
      if (!(await waitForExit(() => isRunning(handles), killGraceMs))) {
        signalPid(handles.pid, 'SIGKILL');
        if (!(await waitForExit(() => isRunning(handles), killGraceMs))) {
          throw new BangerError('internal', `firecracker (pid ${handles.pid}) survived SIGKILL; check the process state with ps`);
        }
      }
    }
    await afterExit(handles);
  }

  const snapshots: SnapshotManager = {
    async pause(handles) {
      await createApiClient(handles.controlSocket).sendAll(buildPauseRequests());
    },
    async resume(handles) {
      await createApiClient(handles.controlSocket).sendAll(buildResumeRequests());
    },
    async saveState(handles, statePath) {
      const api = createApiClient(handles.controlSocket, { timeoutMs: 120_000 });
      if (typeof handles.jailRoot !== 'string') {
        await api.sendAll(buildSaveStateRequests(statePath));
        return;
      }
      // Jailed: Firecracker writes inside its root; move the files out to where the caller asked.
      const root = handles.jailRoot;
      const files = snapshotFiles(statePath);
      const inJail = { [files.snapshotPath]: '/snapshot', [files.memFilePath]: '/snapshot.mem' };
      await api.sendAll(buildSaveStateRequests(statePath, (p) => inJail[p]));
      for (const [host, jailPath] of Object.entries(inJail)) await moveFile(join(root, jailPath), host);
    },
  };

  return { info, start, requestPowerOff, kill, isRunning, snapshots, disks: rawDisks };
}

async function probeVersion(bin: string): Promise<FirecrackerVersion> {
  const r = await run([bin, '--version'], { check: false, timeoutMs: 10_000 }).catch((err: BangerError) => {
    throw new BangerError('unavailable', `Firecracker is not installed (${bin} not found); install Firecracker 1.5 or newer from its GitHub releases, or set hypervisor = "qemu"`, { cause: err });
  });
  const v = parseFirecrackerVersion(r.stdout + r.stderr);
  if (!v) {
    throw new BangerError('unavailable', `${bin} --version printed no Firecracker version (exit ${r.code}): ${(r.stdout + r.stderr).trim().slice(0, 200)}`);
  }
  return v;
}

async function requireSnapshotFiles(statePath: string): Promise<void> {
  for (const f of Object.values(snapshotFiles(statePath))) {
    await stat(f).catch((err) => {
      throw new BangerError('not_found', `saved state file ${f} is missing; save the VM's state again or start it fresh`, { cause: err });
    });
  }
}

/** Polls the API until it answers; fails early, with the console tail, if the process exits. */
async function waitForApi(
  api: ReturnType<typeof createApiClient>,
  exit: Promise<number>,
  o: { timeoutMs: number; serialLogPath: string; jailed: boolean },
): Promise<void> {
  let exitCode: number | undefined;
  void exit.then(
    (code) => (exitCode = code),
    () => (exitCode = 127),
  );
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    // The jailer forks Firecracker off and exits 0 (1.7+): only a failing jailer is fatal.
    if (exitCode !== undefined && !(o.jailed && exitCode === 0)) {
      throw new BangerError('internal', `firecracker exited (code ${exitCode}) before its API answered: ${await tail(o.serialLogPath)}`);
    }
    try {
      await api.send({ method: 'GET', path: '/' });
      return;
    } catch (err) {
      if (!(err instanceof BangerError) || err.code !== 'unavailable') throw err;
    }
    if (Date.now() > deadline) {
      throw new BangerError('internal', `firecracker's API socket ${api.socketPath} did not answer within ${o.timeoutMs} ms: ${await tail(o.serialLogPath)}`);
    }
    await sleep(20);
  }
}

async function tail(path: string, bytes = 1500): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.slice(-bytes).trim() || '(no output)';
}

async function absolute(bin: string): Promise<string> {
  if (bin.startsWith('/')) return bin;
  const found = await which(bin);
  if (!found) throw new BangerError('unavailable', `${bin} not found on PATH; set its absolute path in config.toml`);
  return found;
}

async function spawnViaHost(host: JailerHost, spec: VmSpec, firecrackerBin: string, jailer: JailerConfig, netns: string | undefined): Promise<{ pid: number; exit: Promise<number> }> {
  const { pid } = await host.spawn({
    vmId: spec.id,
    jailerBin: await absolute(jailer.bin),
    firecrackerBin: await absolute(firecrackerBin),
    chrootBase: jailer.chrootBaseDir ?? DEFAULT_CHROOT_BASE,
    apiSock: JAIL_API_SOCKET,
    serialLog: spec.serialLogPath,
    ...(netns ? { netns } : {}),
  });
  // Not our child: its exit code is not ours to read. The jailer exits 0 after forking Firecracker off.
  // Only start-up needs it (waitForApi): stop watching after a minute rather than poll for the VM's lifetime.
  const exit = (async () => {
    for (let i = 0; i < 1200; i++) {
      if (!pidAlive(pid)) return 0;
      await sleep(50);
    }
    return new Promise<number>(() => {});
  })();
  return { pid, exit };
}

/** Jailed Firecracker runs under another pid; the jailer writes it to <root>/<exec-name>.pid. */
async function jailedPid(jail: JailLayout, bin: string, fallback: number): Promise<number> {
  const text = await readFile(join(jail.rootDir, `${basename(bin)}.pid`), 'utf8').catch(() => '');
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : fallback;
}

async function populateJail(jail: JailLayout, uid: number, gid: number): Promise<void> {
  const ours = uid === process.getuid?.();
  await mkdir(join(jail.rootDir, 'run'), { recursive: true, mode: 0o700 });
  if (!ours) await chown(join(jail.rootDir, 'run'), uid, gid);
  for (const f of jail.files) {
    if (f.direction !== 'link') continue;
    const target = jail.onHost(f.jail);
    await rm(target, { force: true });
    try {
      await link(f.host, target);
    } catch (err) {
      const readOnlyInput = f.jail === '/vmlinux' || f.jail === '/initrd.img' || f.jail.startsWith('/snapshot');
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV' || !readOnlyInput) {
        throw new BangerError('unavailable', `cannot link ${f.host} into the jail at ${target}: ${(err as Error).message}; put the jailer's chroot base on the same filesystem as banger's state directory`, { cause: err });
      }
      await copyFile(f.host, target);
    }
    if (!ours) await chown(target, uid, gid);
  }
}

async function moveFile(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await copyFile(from, to);
    await rm(from, { force: true });
  }
}

/** Alive, not a zombie, and still the process we started (pids get reused). */
export function processIsOurs(pid: number, cmdlineMarker: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || !pidAlive(pid)) return false; // pidAlive: not a zombie either
  const argv = readCmdline(pid);
  if (argv === null) return pidAlive(pid); // unreadable: trust that it is still there
  return argv.some((arg) => arg.includes(cmdlineMarker));
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function waitForExit(running: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (running()) {
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
  return true;
}

async function forceStop(pid: number, graceMs: number): Promise<void> {
  if (pid <= 0 || !pidAlive(pid)) return;
  signalPid(pid, 'SIGKILL');
  await waitForExit(() => processIsOurs(pid, ''), graceMs);
}

