/**
 * The QEMU driver: owns the QEMU process (spawn, restore, graceful then forced stop) and its passt.
 * What it does to a running QEMU over QMP (save state, pause, disk switch, port forwards) is live.ts.
 *
 * QEMU is spawned detached (its own session, stdout/stderr to the VM's log) and not daemonized, so
 * the pid we get is QEMU's own and the daemon can be killed or restarted without taking VMs down;
 * a restarted daemon finds the process again from handles.json + /proc (`isRunning`).
 */
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Accel, type NetworkMode } from '../../api/enums.js';
import { BangerError, notFound } from '../../api/errors.js';
import { run, spawnProcess, which } from '../../host/exec.js';
import type { Logger } from '../../host/logger.js';
import { checkSocketPath, VM_RUNTIME_FILES } from '../../store/paths.js';
import { kvmUsability, probeHost, type HostAccelFacts } from '../accel.js';
import type { Driver, DriverInfo, PortForwarder, SnapshotManager, VmHandles, VmSpec } from '../driver.js';
import { buildQemuArgs, SANDBOX_ARG, type QemuMachine } from './args.js';
import { startFailure } from './failure.js';
import { loadUri } from './migration.js';
import { processMatches, processState, tailFile, waitUntil } from './process.js';
import { QmpClient, withQmp } from './qmp.js';
import { createLiveOps, POLL_MS, sleep, waitForMigration } from './live.js';
import type { QemuMemoryFacts } from './convert.js';
import { qcow2Disks } from './disk.js';
import { parseQemuVersion } from './version.js';
import { PASST_FD, socketPair, startPasst, stopPasst, type PasstHandle } from './passt.js';
import { userNetBackend, userNetSummary } from './usernet.js';
import { privateSocket } from './bulksocket.js';

export const QEMU_DRIVER_NAME = 'qemu';

export interface QemuDriverOptions {
  /** @default 'qemu-system-x86_64' */
  bin?: string;
  log: Logger;
  /** @default 'microvm' */
  machine?: QemuMachine;
  /** Host facts for `info()`; tests pass their own. @default probeHost */
  probe?: () => Promise<HostAccelFacts>;
  /** How long QEMU may take to open its QMP socket. @default 15000 */
  startTimeoutMs?: number;
  /** Wait after a signal before SIGKILL. @default 5000 */
  killTimeoutMs?: number;
  /** Loading a saved state. @default 120000 */
  restoreTimeoutMs?: number;
  /** Writing a saved state. @default 300000 */
  saveTimeoutMs?: number;
  /** passt's binary for isolated user-mode networking; null: never use passt. @default `passt` on PATH, probed once */
  passt?: string | null;
  /** QEMU's seccomp filter (`-sandbox`). @default on when this QEMU build accepts it, probed once */
  sandbox?: boolean;
  /** For the RAM converter's stand-in disk. @default 'qemu-img' */
  qemuImg?: string;
}

/** The QEMU-specific facts kept in handles.json next to the common ones. */
export interface QemuHandles extends VmHandles, QemuMemoryFacts {
  driver: 'qemu';
  vmId: string;
  machine: QemuMachine;
  network: NetworkMode;
  /** The passt process behind a user-mode network, when passt runs it. */
  passt?: PasstHandle;
}

export type QemuDriver = Driver & { snapshots: SnapshotManager; ports: PortForwarder };


export function createQemuDriver(opts: QemuDriverOptions): QemuDriver {
  const bin = opts.bin ?? 'qemu-system-x86_64';
  const machine = opts.machine ?? 'microvm';
  const probe = opts.probe ?? (() => probeHost());
  const startTimeoutMs = opts.startTimeoutMs ?? 15_000;
  const killTimeoutMs = opts.killTimeoutMs ?? 5_000;
  const restoreTimeoutMs = opts.restoreTimeoutMs ?? 120_000;
  const saveTimeoutMs = opts.saveTimeoutMs ?? 300_000;

  // Probed once per driver: is passt installed, does this QEMU build have seccomp.
  let passtBin: Promise<string | null> | undefined;
  const findPasst = () => (passtBin ??= opts.passt !== undefined ? Promise.resolve(opts.passt) : which('passt'));
  let sandbox: Promise<boolean> | undefined;
  const probeSandbox = () =>
    (sandbox ??=
      opts.sandbox !== undefined
        ? Promise.resolve(opts.sandbox)
        : run([bin, '-M', 'none', '-nodefaults', '-no-user-config', '-display', 'none', '-sandbox', SANDBOX_ARG, '-monitor', 'stdio'], { input: 'quit\n', check: false, timeoutMs: 10_000 }).then(
            (r) => r.code === 0,
            () => false,
          ));
  const passtOf = (h: VmHandles): PasstHandle | undefined => (h as Partial<QemuHandles>).passt;
  /** passt goes once QEMU has; it quits by itself then, this covers every other way. */
  const stopPasstOf = async (h: VmHandles) => {
    const p = passtOf(h);
    if (p) await stopPasst(p, killTimeoutMs);
  };

  const isRunning = (h: VmHandles): boolean => processMatches(h.pid, h.controlSocket);
  const isGone = (h: VmHandles) => () => !isRunning(h);

  async function removeSocketIfDead(h: VmHandles): Promise<void> {
    if (!isRunning(h)) await rm(h.controlSocket, { force: true });
  }

  async function start(spec: VmSpec, log: Logger): Promise<VmHandles> {
    const controlSocket = checkSocketPath(join(spec.runtimeDir, VM_RUNTIME_FILES.qmp));
    if (spec.restoreFrom && !existsSync(spec.restoreFrom)) throw notFound('saved state', spec.restoreFrom);
    if (spec.restoreMemoryFrom && !existsSync(spec.restoreMemoryFrom)) throw notFound('saved memory', spec.restoreMemoryFrom);
    const net = spec.network;
    const passt = net.mode === 'user' && userNetBackend(net, (await findPasst()) !== null) === 'passt' ? await findPasst() : null;
    const bulkSocket = spec.bulkChannel ? checkSocketPath(join(spec.runtimeDir, VM_RUNTIME_FILES.bulk)) : undefined;
    const argv = [bin, ...buildQemuArgs(spec, { machine, qmpSocket: controlSocket, passtFd: passt ? PASST_FD : undefined, sandbox: await probeSandbox(), bulkSocket })];
    // A socket left by a killed QEMU would answer nothing; never mistake it for the new one.
    await rm(controlSocket, { force: true });
    if (bulkSocket) await rm(bulkSocket, { force: true });

    // passt first, on its end of a socket pair (ready once it listens on the SSH port); QEMU gets the
    // other end. Our copies close right after the spawns, so passt's life is tied to QEMU's.
    const pair = passt ? await socketPair(checkSocketPath(join(spec.runtimeDir, VM_RUNTIME_FILES.passt))) : null;
    let passtHandle: PasstHandle | undefined;
    const fd = openSync(spec.logPath, 'a');
    let child;
    try {
      if (pair && net.mode === 'user') passtHandle = await startPasst({ bin: passt!, net, end: pair[0], logPath: spec.logPath, timeoutMs: startTimeoutMs });
      writeSync(fd, `[banger] ${new Date().toISOString()} starting ${spec.restoreFrom ? `(restoring ${spec.restoreFrom}) ` : ''}${argv.join(' ')}\n`);
      child = spawnProcess(argv, { detached: true, stdio: pair ? ['ignore', fd, fd, pair[1]] : ['ignore', fd, fd], netns: net.netns });
    } catch (err) {
      if (passtHandle) await stopPasst(passtHandle, killTimeoutMs);
      throw err;
    } finally {
      closeSync(fd);
      pair?.forEach((s) => s.destroy());
    }
    let exitCode: number | null = null;
    void child.exit.then(
      (code) => (exitCode = code),
      () => (exitCode = 127),
    );
    const handles: QemuHandles = {
      driver: 'qemu',
      pid: child.pid,
      controlSocket,
      accel: spec.accel,
      startedAt: new Date().toISOString(),
      vmId: spec.id,
      machine,
      network: spec.network.mode,
      ...(passtHandle ? { passt: passtHandle } : {}),
      ...(spec.shareableMemory ? { memory: 'shareable' as const } : spec.restoreMemoryFrom ? { memory: 'file' as const } : {}),
      // What a RAM converter needs to copy this VM's devices at its next snapshot (convert.ts).
      mirror: { ...spec, restoreFrom: undefined, restoreMemoryFrom: undefined },
      ...(bulkSocket ? { bulkSocket } : {}),
    };
    if (child.pid < 0) {
      if (passtHandle) await stopPasst(passtHandle, killTimeoutMs);
      await child.exit; // rejects with the spawn error (QEMU not installed)
    }
    const fail = async (): Promise<BangerError> => startFailure({ exitCode, logPath: spec.logPath, tail: await tailFile(spec.logPath) });

    try {
      const qmp = await connectWhileAlive(controlSocket, () => exitCode !== null, startTimeoutMs);
      if (!qmp) throw await fail();
      try {
        await qmp.execute('query-status');
        // QEMU made every chardev socket before answering QMP: make the bulk one the daemon's alone.
        if (bulkSocket) privateSocket(bulkSocket);
        if (spec.restoreFrom) {
          const t0 = Date.now();
          // A device-only state (its RAM is the file mapped above) was saved with x-ignore-shared;
          // the stream's layout depends on it, so the capability must match.
          if (spec.restoreMemoryFrom) await qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: true }] });
          await qmp.execute('migrate-incoming', { uri: loadUri(spec.restoreFrom) });
          await waitForMigration(qmp, restoreTimeoutMs, `restoring ${spec.restoreFrom}`);
          // A state saved after `stop` comes back paused.
          const status = (await qmp.execute<{ status: string }>('query-status')).status;
          if (status !== 'running') await qmp.execute('cont');
          log.info({ vm: spec.id, ms: Date.now() - t0 }, 'qemu state restored');
        }
      } finally {
        qmp.close();
      }
    } catch (err) {
      // If QEMU died on its own, its log says why better than a closed socket does.
      const died = exitCode !== null || !isRunning(handles);
      await forceStop(handles);
      if (died && !(err instanceof BangerError && err.details?.logPath)) throw await fail();
      throw err;
    }
    log.info({ vm: spec.id, pid: handles.pid, accel: spec.accel, machine }, 'qemu started');
    return handles;
  }

  /** Connects to QMP as soon as the socket answers; null if the process died first or time ran out. */
  async function connectWhileAlive(socket: string, exited: () => boolean, timeoutMs: number): Promise<QmpClient | null> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (exited()) return null;
      if (existsSync(socket)) {
        try {
          return await QmpClient.connect(socket, { timeoutMs: Math.max(500, deadline - Date.now()) });
        } catch {
          // bound but not yet accepting; retry
        }
      }
      await sleep(POLL_MS);
    }
    return null;
  }

  async function forceStop(h: VmHandles): Promise<void> {
    if (isRunning(h)) {
      try {
        process.kill(h.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await waitUntil(() => processState(h.pid) !== 'running', killTimeoutMs);
    }
    await rm(h.controlSocket, { force: true });
    await stopPasstOf(h);
  }

  async function requestPowerOff(h: VmHandles, timeoutMs: number): Promise<boolean> {
    if (!isRunning(h)) {
      await removeSocketIfDead(h);
      await stopPasstOf(h);
      return true;
    }
    try {
      await withQmp(h.controlSocket, (qmp) => qmp.execute('system_powerdown'));
    } catch (err) {
      // QEMU may exit between the request and our read of the reply; that is success.
      if (isRunning(h)) throw err;
    }
    const exited = await waitUntil(isGone(h), timeoutMs);
    if (exited) {
      await removeSocketIfDead(h);
      await stopPasstOf(h);
    }
    opts.log.info({ pid: h.pid, exited }, 'qemu power-off requested');
    return exited;
  }

  async function kill(h: VmHandles, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (isRunning(h)) {
      try {
        process.kill(h.pid, signal);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw new BangerError('internal', `cannot signal QEMU pid ${h.pid}: ${(err as Error).message}`, { cause: err });
      }
      if (!(await waitUntil(isGone(h), signal === 'SIGKILL' ? killTimeoutMs * 2 : killTimeoutMs))) {
        opts.log.warn({ pid: h.pid, signal }, `qemu ignored ${signal}; sending SIGKILL`);
        try {
          process.kill(h.pid, 'SIGKILL');
        } catch {
          // exited meanwhile
        }
        if (!(await waitUntil(isGone(h), killTimeoutMs))) throw new BangerError('internal', `QEMU pid ${h.pid} survived SIGKILL`);
      }
    }
    await rm(h.controlSocket, { force: true });
    await stopPasstOf(h);
  }

  async function info(): Promise<DriverInfo> {
    const r = await run([bin, '--version']);
    const kvm = kvmUsability(await probe());
    return {
      name: QEMU_DRIVER_NAME,
      version: parseQemuVersion(r.stdout).version,
      features: {
        snapshots: true,
        needsRoot: false,
        accelerators: kvm.usable ? [...Accel.options] : ['tcg'],
        userNetworking: true,
        diskFormats: ['qcow2', 'raw'],
        userNetHostAccess: ((s) => ({ blocked: s.isolated, reason: s.reason }))(userNetSummary((await findPasst()) !== null)),
      },
    };
  }

  const { snapshots, ports } = createLiveOps({
    isRunning,
    passtOf,
    saveTimeoutMs,
    log: opts.log,
    machine,
    convert: { bin, qemuImg: opts.qemuImg ?? 'qemu-img', sandbox: probeSandbox, startTimeoutMs },
  });

  return { start, requestPowerOff, kill, isRunning, info, snapshots, ports, disks: qcow2Disks };
}
