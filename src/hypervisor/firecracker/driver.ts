/**
 * The Firecracker driver: owns one firecracker process per VM and talks to it over its API socket.
 *
 * start: spawn `firecracker --api-sock <runtimeDir>/api.sock` (umask 077, so the sockets and snapshot
 * files it creates are owner-only), wait until the API answers, then send the boot requests (or
 * logger + snapshot/load for a restore). The guest console is the process's stdout, sent to the
 * serial log; Firecracker's own log goes to spec.logPath via PUT /logger.
 * Request bodies are built in requests.ts and checked against the published spec in contract.host.test.ts;
 * process handling (spawn, API wait, pid checks, stop) is process.ts, the jail's files jailfs.ts.
 */
import { closeSync, openSync } from 'node:fs';
import { rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BangerError } from '../../api/errors.js';
import { run, spawnProcess } from '../../host/exec.js';
import type { Logger } from '../../host/logger.js';
import { VM_RUNTIME_FILES, checkSocketPath } from '../../store/paths.js';
import type { Driver, DriverInfo, SnapshotManager, VmHandles, VmSpec } from '../driver.js';
import { createApiClient } from './api.js';
import { rawDisks } from './disk.js';
import { DEFAULT_CHROOT_BASE, JAIL_API_SOCKET, jailLayout, jailerArgv, type JailerConfig } from './jailer.js';
import { jailedPid, moveFile, populateJail } from './jailfs.js';
import { absolute, forceStop, processIsOurs, signalPid, spawnViaHost, waitForApi, waitForExit } from './process.js';
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
    // Firecracker always writes the guest RAM to its own memory file next to the state
    // (`snapshotFiles`) and maps it MAP_PRIVATE on restore (mem_backend File): restores of one
    // snapshot already share its unchanged pages through the page cache. A separate memoryPath
    // has nothing to add, so the answer is false (the state's own files hold everything).
    async saveState(handles, statePath) {
      const api = createApiClient(handles.controlSocket, { timeoutMs: 120_000 });
      if (typeof handles.jailRoot !== 'string') {
        await api.sendAll(buildSaveStateRequests(statePath));
        return false;
      }
      // Jailed: Firecracker writes inside its root; move the files out to where the caller asked.
      const root = handles.jailRoot;
      const files = snapshotFiles(statePath);
      const inJail = { [files.snapshotPath]: '/snapshot', [files.memFilePath]: '/snapshot.mem' };
      await api.sendAll(buildSaveStateRequests(statePath, (p) => inJail[p]));
      for (const [host, jailPath] of Object.entries(inJail)) await moveFile(join(root, jailPath), host);
      return false;
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
