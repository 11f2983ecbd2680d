/**
 * The QEMU driver: owns the QEMU process (spawn, QMP, graceful then forced stop), snapshots through
 * migration to a file, and port forwards on user-mode networking.
 *
 * QEMU is spawned detached (its own session, stdout/stderr to the VM's log) and not daemonized, so
 * the pid we get is QEMU's own and the daemon can be killed or restarted without taking VMs down;
 * a restarted daemon finds the process again from handles.json + /proc (`isRunning`).
 */
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Accel, type NetworkMode } from '../../api/enums.js';
import { BangerError, notFound } from '../../api/errors.js';
import { run, spawnProcess, which } from '../../host/exec.js';
import type { Logger } from '../../host/logger.js';
import { checkSocketPath, VM_RUNTIME_FILES } from '../../store/paths.js';
import { kvmUsability, probeHost, type HostAccelFacts } from '../accel.js';
import type { Driver, DriverInfo, PortForwarder, SnapshotManager, VmHandles, VmSpec } from '../driver.js';
import { buildQemuArgs, DISK_ID, hostfwdRule, NETDEV_ID, SANDBOX_ARG, type QemuMachine } from './args.js';
import { startFailure } from './failure.js';
import { loadUri, MigrationInfo, migrationOutcome, saveTarget } from './migration.js';
import { processMatches, processState, tailFile, waitUntil } from './process.js';
import { QmpClient, withQmp } from './qmp.js';
import { qcow2Disks } from './disk.js';
import { parseQemuVersion } from './version.js';
import { PASST_FD, socketPair, startPasst, stopPasst, type PasstHandle } from './passt.js';
import { userNetBackend, userNetSummary } from './usernet.js';

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
}

/** The QEMU-specific facts kept in handles.json next to the common ones. */
export interface QemuHandles extends VmHandles {
  driver: 'qemu';
  vmId: string;
  machine: QemuMachine;
  network: NetworkMode;
  /** The passt process behind a user-mode network, when passt runs it. */
  passt?: PasstHandle;
}

export type QemuDriver = Driver & { snapshots: SnapshotManager; ports: PortForwarder };

// Migration is local (a pipe to a file): lift QEMU's default 128 MiB/s throttle.
const MIGRATE_MAX_BANDWIDTH = 64 * 1024 ** 3;
const POLL_MS = 50;

/** Why a running passt-networked VM takes no forward change (refused before anything is stored). */
export const LIVE_FORWARD_PASST =
  "this VM's network (passt, which keeps the guest off the host's 127.0.0.1) takes port forwards at start only: stop the VM, run `banger vm forward` again, then start it (VMs created with --host-access or --no-egress use QEMU's slirp, which forwards live)";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

  /** Polls query-migrate until the migration ends; throws with QEMU's reason when it failed. */
  async function waitForMigration(qmp: QmpClient, timeoutMs: number, what: string): Promise<MigrationInfo> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = MigrationInfo.parse(await qmp.execute('query-migrate'));
      const outcome = migrationOutcome(info);
      if (outcome.done) {
        if (!outcome.ok) throw new BangerError('internal', `${what} failed: ${outcome.error}`);
        return info;
      }
      if (Date.now() >= deadline) throw new BangerError('unavailable', `${what} did not finish within ${timeoutMs} ms (status ${info.status ?? 'none'})`);
      await sleep(POLL_MS);
    }
  }

  async function start(spec: VmSpec, log: Logger): Promise<VmHandles> {
    const controlSocket = checkSocketPath(join(spec.runtimeDir, VM_RUNTIME_FILES.qmp));
    if (spec.restoreFrom && !existsSync(spec.restoreFrom)) throw notFound('saved state', spec.restoreFrom);
    const net = spec.network;
    const passt = net.mode === 'user' && userNetBackend(net, (await findPasst()) !== null) === 'passt' ? await findPasst() : null;
    const argv = [bin, ...buildQemuArgs(spec, { machine, qmpSocket: controlSocket, passtFd: passt ? PASST_FD : undefined, sandbox: await probeSandbox() })];
    // A socket left by a killed QEMU would answer nothing; never mistake it for the new one.
    await rm(controlSocket, { force: true });

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
        if (spec.restoreFrom) {
          const t0 = Date.now();
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

  const requireRunning = (h: VmHandles, what: string) => {
    if (!isRunning(h)) throw new BangerError('conflict', `cannot ${what}: the VM's QEMU process (pid ${h.pid}) is not running`);
  };

  const snapshots: SnapshotManager = {
    async saveState(h, statePath) {
      requireRunning(h, 'save its state');
      const target = saveTarget(statePath);
      await Promise.all([rm(target.partPath, { force: true }), rm(target.writtenPath, { force: true })]);
      const t0 = Date.now();
      await withQmp(h.controlSocket, async (qmp) => {
        const before = (await qmp.execute<{ status: string }>('query-status')).status;
        await qmp.execute('stop');
        try {
          await qmp.execute('migrate-set-parameters', { 'max-bandwidth': MIGRATE_MAX_BANDWIDTH });
          await qmp.execute('migrate', { uri: target.uri });
          await waitForMigration(qmp, saveTimeoutMs, `saving the VM state to ${statePath}`);
        } catch (err) {
          await qmp.execute('migrate_cancel').catch(() => {});
          if (before === 'running') await qmp.execute('cont').catch(() => {});
          throw err;
        }
      }).catch(async (err) => {
        // The writer renames .part to .written once QEMU closes the pipe; clean up whichever exists.
        await sleep(200);
        await Promise.all([rm(target.partPath, { force: true }), rm(target.writtenPath, { force: true })]);
        throw err;
      });
      if (!(await waitUntil(() => existsSync(target.writtenPath), 30_000))) {
        throw new BangerError('internal', `the VM state was sent but ${target.writtenPath} never appeared; check disk space and ${target.partPath}`);
      }
      await rename(target.writtenPath, statePath);
      opts.log.info({ pid: h.pid, statePath, ms: Date.now() - t0 }, 'qemu state saved');
    },
    async pause(h) {
      requireRunning(h, 'pause it');
      await withQmp(h.controlSocket, (qmp) => qmp.execute('stop'));
    },
    async resume(h) {
      requireRunning(h, 'resume it');
      await withQmp(h.controlSocket, (qmp) => qmp.execute('cont'));
    },
    async switchDisk(h, overlayPath) {
      requireRunning(h, 'switch its disk');
      // mode=existing: QEMU opens the caller's overlay as is and links the current node under it in
      // memory (the old node is reopened read-only). Works in postmigrate too, where it must run:
      // QEMU 7.2 cannot re-activate images after a migration when the switch came before it
      // ("Failed to get write lock" on `cont`).
      await withQmp(h.controlSocket, (qmp) =>
        qmp.execute('blockdev-snapshot-sync', { device: DISK_ID, 'snapshot-file': overlayPath, format: 'qcow2', mode: 'existing' }),
      );
    },
  };

  const hmp = (h: VmHandles, command: string) =>
    withQmp(h.controlSocket, (qmp) => qmp.execute<string>('human-monitor-command', { 'command-line': command }));

  const requireUserNet = (h: VmHandles) => {
    if ((h as Partial<QemuHandles>).network === 'bridge') {
      throw new BangerError('bad_request', 'port forwarding applies to user-mode networking; in bridge mode connect to the guest address directly');
    }
    // passt takes its forwards at start only (this version has no run-time interface).
    if (passtOf(h)) throw new BangerError('conflict', LIVE_FORWARD_PASST);
  };

  const ports: PortForwarder = {
    async addForward(h, hostPort, guestPort) {
      requireUserNet(h);
      requireRunning(h, 'forward a port');
      // HMP prints nothing on success and the reason on failure.
      const out = (await hmp(h, `hostfwd_add ${NETDEV_ID} ${hostfwdRule(hostPort, guestPort)}`)).trim();
      if (out) {
        const inUse = /Could not set up host forwarding rule/i.test(out);
        throw new BangerError(inUse ? 'conflict' : 'internal', inUse ? `host port ${hostPort} on 127.0.0.1 is already in use; pick another port` : `cannot forward port ${hostPort}: ${out}`);
      }
    },
    async removeForward(h, hostPort) {
      requireUserNet(h);
      requireRunning(h, 'remove a port forward');
      const out = (await hmp(h, `hostfwd_remove ${NETDEV_ID} tcp:127.0.0.1:${hostPort}`)).trim();
      if (/not found/i.test(out)) throw notFound('port forward', `127.0.0.1:${hostPort}`);
      if (out && !/removed/i.test(out)) throw new BangerError('internal', `cannot remove the forward of port ${hostPort}: ${out}`);
    },
  };

  return { start, requestPowerOff, kill, isRunning, info, snapshots, ports, disks: qcow2Disks };
}
