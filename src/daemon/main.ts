/**
 * bangerd: the only place that wires real implementations together. Listens on a unix socket
 * in a 0700 runtime dir; adopts running VMs at start; never kills VMs when it exits.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { call } from '../api/client.js';
import { BangerError } from '../api/errors.js';
import { loadConfig } from '../config/load.js';
import { onCommand } from '../host/exec.js';
import { createLogger } from '../host/logger.js';
import { ensurePrivateDir, replaceFileSync } from '../host/privatefile.js';
import { buildInfo } from '../host/version.js';
import { probeHost } from '../hypervisor/accel.js';
import { chooseHypervisor } from '../hypervisor/choice.js';
import { defaultRegistry, locateDrivers } from '../hypervisor/registry.js';
import { openDb } from '../store/db.js';
import { resolvePaths, systemPaths } from '../store/paths.js';
import { systemInstallClash } from '../system/guard.js';
import { readInstallRecord } from '../system/record.js';
import { createVmStore } from '../store/vms.js';
import { createVmService } from '../vms/service.js';
import { qemuImgLayers } from '../hypervisor/qemu/layers.js';
import { createSnapshotRegistry } from '../snapshots/registry.js';
import { createRestoreHooks } from '../snapshots/restore.js';
import { createSnapshotService } from '../snapshots/service.js';
import { forkParallelism } from '../snapshots/fork.js';
import { applyIdentity } from '../snapshots/identity-step.js';
import { createWarmCache } from '../snapshots/warmcache.js';
import { createSnapshotStore } from '../store/snapshots.js';
import { snapshotHandlers } from './snapshot-handlers.js';
import { createArtifactService } from '../artifacts/service.js';
import { artifactHandlers } from './artifact-handlers.js';
import { createDispatch } from './dispatch.js';
import { createHttpService } from './http.js';
import { createE2bEndpoint } from '../e2b/mount.js';
import type { HttpMount } from '../http/listener.js';
import { createGuestAccess } from '../guest/access.js';
import { createLocks } from '../host/locks.js';
import { ALREADY_RUNNING_EXIT, takeInstanceLock } from './instance-lock.js';
import { startServer } from './server.js';
import { vmHandlers } from './vm-handlers.js';
import { networkDoctor, networkHandlers, userNetDoctorCheck } from './network-handlers.js';
import { startDnsServer, type DnsServer } from '../network/dns.js';
import { createForwarding } from '../network/forwards.js';
import { bridgeCheck, loadBridgeAccess } from '../network/privilege.js';
import { helperJailerHost } from '../rootd/client.js';
import { systemResolved } from '../network/resolved.js';
import { createVmNetworking } from '../network/vmnet.js';
import { readHandles } from '../store/handles.js';
import { workspaceHandlers } from './workspace-handlers.js';
import { createActivityStore } from '../store/activity.js';
import { createActivity, startAutoStop } from '../vms/autostop.js';
import { createStatsSampler } from '../vms/stats.js';
import { createWorkspaceService } from '../workspace/service.js';
import { workspaceDrift } from '../workspace/drift.js';
import { createVmEvents } from '../vms/events.js';
import { createUiMount } from '../ui/mount.js';
import { loadUiSecret } from '../ui/secret.js';

/** How long a boot (and the warm template's boot) waits for SSH. */
const SSH_TIMEOUT_MS = 180_000;

export async function main(): Promise<void> {
  const paths = resolvePaths();
  for (const d of [paths.stateDir, paths.vmsDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
  ensurePrivateDir(paths.runtimeDir, 'runtime directory'); // ours, 0700, not a link: else refuse to start
  const running = await takeInstanceLock(paths.daemonLock, paths.daemonPidFile); // one bangerd per install, before the socket
  if (running) return void ((process.exitCode = ALREADY_RUNNING_EXIT), process.stderr.write(`${running}\n`));
  // One daemon per install: if the socket answers, another bangerd owns it.
  try {
    await call(paths.daemonSocket, 'daemon.status', {});
    process.stderr.write(`bangerd is already running on ${paths.daemonSocket}\n`);
    process.exitCode = 1;
    return;
  } catch {
    // not running: take over the socket
  }

  // A running bangerd.service (system install) owns this user's state dir: no second daemon on it.
  let record = null;
  try {
    record = readInstallRecord(systemPaths().installRecord);
  } catch {
    // an unreadable record is `banger doctor`'s business, not a reason to stay down
  }
  const clash = systemInstallClash(record, process.getuid?.() ?? -1, paths.daemonSocket, paths.stateDir);
  if (clash && (await call(record!.daemonSocket, 'daemon.status', {}).then(() => true, () => false))) {
    process.stderr.write(`${clash}\n`);
    process.exitCode = 1;
    return;
  }

  const config = loadConfig(paths);
  const log = createLogger({ file: paths.daemonLog, level: config.logLevel });
  onCommand((argv) => log.debug({ argv }, 'run'));
  for (const w of config.warnings) log.warn({ config: paths.configFile }, w);
  const db = openDb(paths.db);
  const locks = createLocks();
  const resolved = systemResolved();
  // Bridge mode's root work (and the jailer's): in-process as root, else through bangerd-root, else refused.
  const access = loadBridgeAccess({ stateDir: paths.stateDir, resolved, log });
  // The jailer (on by default) runs where it can: as root, or started by bangerd-root for a non-root bangerd.
  const jailer = {
    ...config.jailer,
    enabled: config.jailer.enabled && access.via !== 'none',
    ...(access.via === 'helper' ? { host: helperJailerHost(access.helperSocket!) } : {}),
  };
  const registry = defaultRegistry({ ...config, jailer });
  const hv = chooseHypervisor({
    hypervisor: config.hypervisor,
    accel: config.accel,
    kvm: await probeHost(),
    drivers: await locateDrivers(registry),
    root: access.via === 'root',
    helper: access.via === 'helper',
  });
  const accel = { accel: hv.accel, reason: hv.accelReason };
  const driverName = hv.driver;
  const driver = registry.get(driverName)!.create(log);
  log.info({ driver: driverName, reason: hv.driverReason, bridge: hv.bridge.reason }, 'hypervisor driver selected');
  // Whether user-mode guests reach the host's 127.0.0.1 (passt installed or not): probed once.
  const userNetwork = driver.info().then((i) => i.features.userNetHostAccess, () => undefined);
  // A VM whose disk lost its identity step (killed right after create) gets it again on connect.
  const guest = await createGuestAccess({
    keyPath: config.sshKeyPath ?? paths.sshKey,
    knownHostsPath: paths.knownHosts,
    reidentify: async (s, vm, trustHostKey) => {
      log.warn({ vm: vm.name }, 'guest presented its pre-identity host key (its disk lost the identity step): applying it again');
      await applyIdentity(s, vm, true, { trustHostKey, log });
    },
  });
  const vmStore = createVmStore(db);
  // banger's `.vm` names. A taken port is reported (dns status, doctor), never fatal.
  const dns = { server: null as DnsServer | null, error: null as string | null };
  try {
    dns.server = await startDnsServer({ host: config.network.dnsAddress, port: config.network.dnsPort, log: log.child({ svc: 'dns' }) });
  } catch (err) {
    dns.error = (err as Error).message;
    log.warn({ err: dns.error, host: config.network.dnsAddress, port: config.network.dnsPort }, 'dns server not started');
  }
  const networking = createVmNetworking({
    config,
    log: log.child({ svc: 'network' }),
    bridge: access.ops,
    cannotBridge: access.cannotBridge,
    dns: dns.server,
    sshConfig: { path: paths.sshConfig, identity: { keyPath: guest.keyPath(), knownHostsPath: guest.knownHostsPath() } },
  });
  const activity = createActivity({ store: createActivityStore(db), staleMs: config.autoStopStaleAfterMs, log: log.child({ svc: 'auto-stop' }) });
  const snapshotStore = createSnapshotStore(db);
  const snapLog = log.child({ svc: 'snapshots' });
  const snapshotRegistry = createSnapshotRegistry({ paths, store: snapshotStore, vmStore, driver, driverName, layers: qemuImgLayers(), locks, log: snapLog });
  // Snapshots made from an image or kernel guard its delete (unused warm ones are dropped).
  const artifacts = createArtifactService({ paths, db, config, vmStore, log, beforeDelete: snapshotRegistry.beforeArtifactDelete });
  // The restore half of snapshots needs no VM service: the VM service is built on it.
  const restore = createRestoreHooks({
    registry: snapshotRegistry,
    warmFor: createWarmCache({ registry: snapshotRegistry, paths, config, driver, driverName, accel: accel.accel, guest, log: snapLog, sshTimeoutMs: SSH_TIMEOUT_MS }),
    accel: accel.accel,
    driverName,
    locks,
    guest,
    log: snapLog,
  });
  // [config] stats_poll_interval: the daemon samples running VMs (read by `vm stats`).
  const stats = createStatsSampler({
    intervalMs: config.statsPollIntervalMs,
    running: () => vms.list().filter((v) => v.state === 'running').map((v) => ({ id: v.id, pid: v.pid })),
  });
  const vmEvents = createVmEvents();
  const vms = createVmService({
    paths,
    config,
    store: vmStore,
    driver,
    driverName,
    accel: accel.accel,
    hypervisor: hv,
    locks,
    guest,
    artifacts: artifacts.access,
    log,
    sshTimeoutMs: SSH_TIMEOUT_MS,
    restore,
    network: networking,
    activity, // [config: auto_stop_stale_after]
    fileSync: config.fileSync ?? [],
    stats,
    events: vmEvents, // [ui] the web UI's live list
  });
  const snapshots = createSnapshotService({
    registry: snapshotRegistry,
    paths,
    vmStore,
    vms,
    driver,
    driverName,
    accel: accel.accel,
    locks,
    guest,
    log: snapLog,
    forkParallelism: forkParallelism(availableParallelism()),
  });
  const rec = vms.reconcile();
  log.info({ ...rec, accel: accel.accel, reason: accel.reason, driver: driverName }, 'reconciled');
  log.info(await vms.finishInterrupted(), 'interrupted operations finished');
  // Taps and NAT rules of VMs that are gone (a crash), then names from the VMs that still run.
  const netRec = await vms.reconcileNetwork().catch((err: Error) => log.warn({ err: err.message }, 'network reconcile failed'));
  if (netRec) log.info(netRec, 'network reconciled');
  await vms.publish();
  // Catches VMs that powered off on their own (their names must stop resolving).
  setInterval(() => void vms.publish(), 5000).unref();
  const forwarding = createForwarding({
    store: vmStore,
    driver,
    locks,
    paths,
    lookup: vms.lookup,
    running: (r) => (vms.view(r).state === 'running' ? readHandles(paths.vmFile(r.id, 'handles')) : null),
  });
  log.info(await snapshots.recover(), 'snapshots recovered');
  // [config] auto_stop_stale_after and stats_poll_interval timers (both unref'd).
  startAutoStop(vms, activity, config.autoStopStaleAfterMs, log.child({ svc: 'auto-stop' }));
  stats.start();

  // The loopback HTTP surfaces (E2B-compatible endpoint, web UI) are mounts on one listener.
  const e2b = createE2bEndpoint({ db, vms, snapshots, apiKeyPath: paths.e2bApiKey, defaultImage: config.defaultImageName, log: log.child({ svc: 'e2b' }) });
  const ui = createUiMount({ secret: () => loadUiSecret(paths.uiSecret), dispatch: (m, p, c) => dispatch(m, p, c), vms, events: vmEvents, serialPath: (id) => paths.vmFile(id, 'serial'), statsIntervalMs: config.statsPollIntervalMs, paths, log: log.child({ svc: 'ui' }) });
  const httpMounts: HttpMount[] = [e2b.mount, ui];
  const http = createHttpService({ port: config.http.port, portFile: paths.httpPortFile, mounts: httpMounts, log: log.child({ svc: 'http' }) });
  e2b.start(); // [e2b] sandbox expiry (also those that expired while the daemon was down)
  if (config.e2b.enabled) void http.ensure().catch((err: Error) => log.warn({ err: err.message }, 'http listener not started'));

  const startedAt = new Date().toISOString();
  const info = buildInfo();
  let shutdown: () => void = () => {};
  const dispatch = createDispatch({
    'daemon.status': async () => ({
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
      hypervisorReason: hv.driverReason,
      bridge: hv.bridge,
      userNetwork: await userNetwork,
      configWarnings: config.warnings,
      http: http.url(),
    }),
    'daemon.http': async () => ({ url: await http.ensure() }),
    'ui.open': async () => ({ url: `${await http.ensure()}${ui.loginPath()}` }),
    'daemon.stop': () => {
      setTimeout(() => shutdown(), 50);
      return { ok: true as const };
    },
    'daemon.doctor': async () => [
      ...config.warnings.map((w) => ({ name: 'config', verdict: 'warn' as const, detail: w, fix: 'check the spelling, or remove the key' })),
      ...(await artifacts.doctor()),
      ...(await networkDoctor({ config, dns, resolved, bridge: () => bridgeCheck(access) })),
      ...((u) => (u ? [userNetDoctorCheck(u)] : []))(await userNetwork),
    ],
    ...vmHandlers(vms, { paths, workspaceDrift }),
    ...artifactHandlers(artifacts, { paths, config, log }),
    ...networkHandlers({ vms, forwarding, config, dns, resolved, resolver: access.resolver, sshConfigPath: paths.sshConfig }),
    ...snapshotHandlers(snapshots),
    ...workspaceHandlers(createWorkspaceService({ vms, locks, log: log.child({ svc: 'workspace' }) })),
  });
  const server = await startServer({ socketPath: paths.daemonSocket, dispatch, log });
  replaceFileSync(paths.daemonPidFile, `${process.pid}\n`); // O_EXCL|O_NOFOLLOW: a planted link is removed, not followed
  log.info({ socket: paths.daemonSocket, pid: process.pid, version: info.version }, 'listening');

  shutdown = () => {
    log.info('shutting down (VMs keep running)');
    server.close();
    ui.close();
    void http.close();
    guest.closeAll();
    void dns.server?.close();
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
