/**
 * bangerd: the only place that wires real implementations together. Listens on a unix socket
 * in a 0700 runtime dir; adopts running VMs at start; never kills VMs when it exits.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { call } from '../api/client.js';
import { BangerError } from '../api/errors.js';
import { loadConfig } from '../config/load.js';
import { setCommandLogger } from '../host/exec.js';
import { createLogger } from '../host/logger.js';
import { buildInfo } from '../host/version.js';
import { detectAccel } from '../hypervisor/accel.js';
import { selectDriver } from '../hypervisor/registry.js';
import { openDb } from '../store/db.js';
import { resolvePaths } from '../store/paths.js';
import { createVmStore } from '../store/vms.js';
import { createVmService } from '../vms/service.js';
import { createArtifactService } from './artifact-service.js';
import { createDispatch } from './dispatch.js';
import { createGuestAccess } from './guest-access.js';
import { createLocks } from './locks.js';
import { startServer } from './server.js';
import { vmHandlers } from './vm-handlers.js';

export async function main(): Promise<void> {
  const paths = resolvePaths();
  for (const d of [paths.stateDir, paths.vmsDir, paths.runtimeDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
  const log = createLogger({ file: paths.daemonLog });
  setCommandLogger((argv) => log.debug({ argv }, 'run'));

  // One daemon per install: if the socket answers, another bangerd owns it.
  try {
    await call(paths.daemonSocket, 'daemon.status', {});
    process.stderr.write(`bangerd is already running on ${paths.daemonSocket}\n`);
    process.exitCode = 1;
    return;
  } catch {
    // not running: take over the socket
  }

  const config = loadConfig(paths);
  const db = openDb(paths.db);
  const locks = createLocks();
  const accel = await detectAccel(config.accel);
  const { driver, name: driverName } = await selectDriver({ requested: config.hypervisor, accel: accel.accel, config, log });
  const guest = await createGuestAccess(paths, config.sshKeyPath);
  const artifacts = createArtifactService({ paths, db, config, locks, log });
  const vms = createVmService({
    paths,
    config,
    store: createVmStore(db),
    driver,
    driverName,
    accel: accel.accel,
    locks,
    guest,
    artifacts: artifacts.access,
    log,
  });
  const rec = vms.reconcile();
  log.info({ ...rec, accel: accel.accel, reason: accel.reason, driver: driverName }, 'reconciled');

  const startedAt = new Date().toISOString();
  const info = buildInfo();
  let shutdown: () => void = () => {};
  const dispatch = createDispatch({
    'daemon.status': () => ({
      pid: process.pid,
      socket: paths.daemonSocket,
      logPath: paths.daemonLog,
      stateDir: paths.stateDir,
      version: info.version,
      commit: info.commit,
      startedAt,
      vmsRunning: vms.list().filter((v) => v.state === 'running').length,
      hypervisor: driverName,
      accel: accel.accel,
      accelReason: accel.reason,
    }),
    'daemon.stop': () => {
      setTimeout(() => shutdown(), 50);
      return { ok: true as const };
    },
    'daemon.doctor': () => artifacts.doctor(),
    ...vmHandlers(vms, { paths, disks: driver.disks, keyPath: guest.keyPath, knownHostsPath: guest.knownHostsPath }),
    ...artifacts.handlers,
  });
  const server = await startServer({ socketPath: paths.daemonSocket, dispatch, log });
  writeFileSync(paths.daemonPidFile, `${process.pid}\n`);
  log.info({ socket: paths.daemonSocket, pid: process.pid, version: info.version }, 'listening');

  shutdown = () => {
    log.info('shutting down (VMs keep running)');
    server.close();
    guest.closeAll();
    db.close();
    rmSync(paths.daemonSocket, { force: true });
    rmSync(paths.daemonPidFile, { force: true });
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().catch((err) => {
    process.stderr.write(`bangerd: ${err instanceof BangerError ? err.message : (err as Error).stack}\n`);
    process.exit(1);
  });
}
