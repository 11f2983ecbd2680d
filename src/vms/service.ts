/**
 * The VM lifecycle service. Every lifecycle operation holds vmLock(id) for its whole length;
 * name reservation takes the global lock for milliseconds. Dependencies come in explicitly.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { BangerError, conflict, notFound } from '../api/errors.js';
import { parseSize } from '../api/names.js';
import type { Progress } from '../api/progress.js';
import type { Vm, VmCreateParams, VmState, Workspace } from '../api/vm.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../host/logger.js';
import type { Driver, VmHandles } from '../hypervisor/driver.js';
import type { Locks } from '../host/locks.js';
import type { GuestConnection } from '../guest/ssh.js';
import { vmNetworkFor, type HypervisorChoice } from '../hypervisor/choice.js';
import { createVmNetworking, type VmNetworking } from '../network/vmnet.js';
import { readHandles, removeHandles, writeHandles, type Handles } from '../store/handles.js';
import type { Paths } from '../store/paths.js';
import type { VmRecord, VmStore } from '../store/vms.js';
import type { Activity } from './autostop.js';
import { buildBootArgs } from './bootargs.js';
import type { FileSyncEntry } from '../config/filesync.js';
import { syncFiles } from './filesync.js';
import { deriveState } from './inspect.js';
import { generateName } from './names.js';

/** A command channel to one running guest (the daemon's pooled SSH connection). */
export type GuestSession = Pick<GuestConnection, 'run' | 'exec'>;

export interface GuestTarget {
  vmId: string;
  alias: string;
  host: string;
  port: number;
}

export interface GuestAccess {
  /** Returns the pooled session, waiting for SSH up to timeoutMs. */
  open(target: GuestTarget, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<GuestSession>;
  drop(vmId: string): void;
  forget(alias: string): Promise<void>;
  /** Records `publicKeyLine` as the alias's only host key (learned over an already verified session). */
  trustHostKey(alias: string, publicKeyLine: string): Promise<void>;
  publicKeyBlob(): Promise<string>;
  keyPath(): string;
  knownHostsPath(): string;
}

export interface ResolvedBoot {
  image: { name: string; rootfsPath: string; kernelName: string };
  kernel: { name: string; vmlinuxPath: string; initrdPath: string };
}

export interface ArtifactAccess {
  /** The named image (or the default, built on first use) and its kernel (pulled on first use). */
  resolve(imageName: string | undefined, progress: Progress): Promise<ResolvedBoot>;
  /** Paths for an existing VM's image and kernel. */
  pathsFor(imageName: string, kernelName: string): ResolvedBoot;
}

/** A saved VM (snapshot) to restore instead of booting; snapshots/ builds these. */
export interface RestoreSource {
  snapshotId: string;
  /** For progress lines, e.g. `snapshot web-20250101-120000` or `warm:debian-bookworm`. */
  label: string;
  statePath: string;
  /** The frozen layer a new VM's overlay is created on. */
  layerPath: string;
  vcpu: number;
  memoryMib: number;
  diskSizeBytes: number;
  /** `fresh`: a new VM (new host name, machine-id, MAC, host key); `same`: the VM resumes as itself. */
  identity: 'fresh' | 'same';
}

export interface WarmRequestInput {
  image: string | undefined;
  cold: boolean;
  vcpu: number | undefined;
  memoryMib: number | undefined;
  diskSizeBytes: number | undefined;
  network: 'user' | 'bridge';
  resolved: ResolvedBoot;
}

/** What the VM service asks of snapshots/ (wired in the daemon; absent: every start is a boot). */
export interface RestoreHooks {
  /** The warm snapshot to restore for this create (built on first use), or null to boot (says why in progress). */
  warmFor(req: WarmRequestInput, progress: Progress, signal?: AbortSignal): Promise<RestoreSource | null>;
  /** Creates the new VM's overlay on the source's layer and records that the VM sits on it. */
  attach(vmId: string, src: RestoreSource, diskPath: string, sizeBytes: number): Promise<void>;
  /** Runs right after a restore, on the VM's SSH session: fresh randomness, clock and (fresh) identity. */
  refresh(session: GuestSession, vm: { id: string; name: string }, src: RestoreSource, progress: Progress): Promise<void>;
  /** A stopped VM saved by `vm snapshot --stop` resumes from that snapshot (once); null: boot it. */
  resumeFor(vm: VmRecord, progress: Progress): RestoreSource | null;
}

export interface VmServiceDeps {
  paths: Paths;
  config: Config;
  store: VmStore;
  driver: Driver;
  driverName: string;
  accel: 'kvm' | 'tcg';
  /** What the host can give VMs (hypervisor/choice.ts): default network, bridge availability. */
  hypervisor: Pick<HypervisorChoice, 'driver' | 'driverReason' | 'bridge' | 'defaultNetwork'>;
  locks: Locks;
  guest: GuestAccess;
  artifacts: ArtifactAccess;
  log: Logger;
  /** How long to wait for SSH after boot. */
  sshTimeoutMs?: number;
  /** Restoring snapshots (warm start, fork, resume); absent: every start is a boot. */
  restore?: RestoreHooks;
  /** Host networking (bridge/tap/NAT, DNS records, ssh_config); absent: user mode, nothing published. */
  network?: VmNetworking;
  /** [config] Last use of each VM, for auto_stop_stale_after (vms/autostop.ts); absent: not recorded. */
  activity?: Activity;
  /** [config] `[[file_sync]]` entries copied into the guest at every start (vms/filesync.ts). @default config.fileSync */
  fileSync?: readonly FileSyncEntry[];
}

const alias = (name: string) => `${name}.vm`;

export function createVmService(deps: VmServiceDeps) {
  const { paths, store, driver, locks, guest, log } = deps;
  const sshTimeoutMs = deps.sshTimeoutMs ?? 180_000;
  const net = deps.network ?? createVmNetworking({ config: deps.config, log });
  const fileSync = deps.fileSync ?? deps.config.fileSync ?? [];
  /** DNS records and ssh_config follow every lifecycle change. */
  const publish = (): Promise<void> => {
    try {
      return net.publish(store.list().map(view));
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not publish VM names');
      return Promise.resolve();
    }
  };

  function lookup(name: string): VmRecord {
    const rec = store.findByName(name);
    if (!rec) throw notFound('VM', name, 'run `banger vm list` to see VMs');
    return rec;
  }

  function handlesOf(id: string): Handles | null {
    return readHandles(paths.vmFile(id, 'handles'));
  }

  function live(rec: VmRecord): { state: VmState; reasons: string[]; handles: Handles | null } {
    const h = handlesOf(rec.id);
    const alive = h ? driver.isRunning(h as unknown as VmHandles) : false;
    const d = deriveState(rec.state, { hasHandles: h !== null, processAlive: alive });
    return { state: d.state, reasons: d.reasons, handles: alive ? h : null };
  }

  function view(rec: VmRecord): Vm {
    const l = live(rec);
    return {
      ...rec,
      state: l.state,
      reasons: l.reasons,
      pid: l.handles?.pid ?? null,
      accel: l.handles?.accel ?? null,
      ssh: l.handles ? l.handles.ssh : null,
      ...(deps.activity ? deps.activity.describe(rec, l.state === 'running') : {}), // [config: auto_stop]
    };
  }

  function requireRunning(rec: VmRecord): Handles {
    const l = live(rec);
    if (l.state !== 'running' || !l.handles) {
      throw conflict(`VM "${rec.name}" is ${l.state}; run \`banger vm start ${rec.name}\` first`, { state: l.state });
    }
    return l.handles;
  }

  async function boot(rec: VmRecord, progress: Progress, waitForSsh: boolean, signal?: AbortSignal, from?: RestoreSource): Promise<void> {
    const l = live(rec);
    if (l.state === 'running') return;
    const restore = from ?? deps.restore?.resumeFor(rec, progress) ?? undefined;
    // A restored guest gets its identity refreshed over SSH before anyone uses it; file_sync needs SSH too.
    if (restore || fileSync.length > 0) waitForSsh = true;
    const boot = deps.artifacts.pathsFor(rec.image, rec.kernel);
    const prepared = await net.prepare(rec, progress);
    if (prepared.network !== rec.network) store.update(rec.id, { network: prepared.network });
    const runtimeDir = paths.vmRuntimeDir(rec.id);
    mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
    const cmdline = buildBootArgs({
      hostname: rec.name,
      sshKeyBlob: await guest.publicKeyBlob(),
      net: prepared.boot,
      accel: deps.accel,
    });
    store.update(rec.id, { state: 'starting' });
    progress('boot', restore ? `restoring ${restore.label} (${deps.driverName}, ${deps.accel})` : `starting ${deps.driverName} (${deps.accel})`);
    let h: VmHandles;
    try {
      h = await driver.start(
        {
          id: rec.id,
          name: rec.name,
          vcpu: rec.vcpu,
          memoryMib: rec.memoryMib,
          kernelPath: boot.kernel.vmlinuxPath,
          initrdPath: boot.kernel.initrdPath,
          cmdline,
          diskPath: paths.vmFile(rec.id, 'disk'),
          diskFormat: 'qcow2',
          serialLogPath: paths.vmFile(rec.id, 'serial'),
          logPath: paths.vmFile(rec.id, 'hypervisorLog'),
          runtimeDir,
          accel: deps.accel,
          network: prepared.spec,
          ...(restore ? { restoreFrom: restore.statePath } : {}),
        },
        log.child({ vm: rec.name }),
      );
    } catch (err) {
      store.update(rec.id, { state: 'stopped' });
      await net.release(rec);
      throw err;
    }
    const handles: Handles = { ...h, driver: deps.driverName, ssh: prepared.ssh, forwards: prepared.forwards };
    writeHandles(paths.vmFile(rec.id, 'handles'), handles);
    store.update(rec.id, { state: 'running' });
    deps.activity?.touch(rec.id); // [config: auto_stop] a start is a use
    publish();
    if (!waitForSsh) return;
    progress('ssh', 'waiting for SSH');
    let session: GuestSession;
    try {
      session = await guest.open({ vmId: rec.id, alias: alias(rec.name), ...prepared.ssh }, { timeoutMs: sshTimeoutMs, signal });
      // The disk may be larger than the image's file system (vm create/set --disk-size): grow it online.
      // (A restored guest's disk has the size its snapshot saw, already grown.)
      if (!restore) await session.run(['sh', '-c', 'resize2fs /dev/vda >/dev/null 2>&1 || true'], { timeoutMs: 60_000 });
    } catch (err) {
      if (err instanceof BangerError && err.code === 'conflict') throw err; // host key mismatch: say so as is
      throw new BangerError(
        'unavailable',
        `VM "${rec.name}" started but SSH did not answer within ${Math.round(sshTimeoutMs / 1000)}s; the VM is kept: see \`banger vm logs ${rec.name}\`, then \`banger vm delete ${rec.name}\``,
        { cause: err },
      );
    }
    if (restore) {
      try {
        await deps.restore!.refresh(session, { id: rec.id, name: rec.name }, restore, progress);
      } catch (err) {
        throw new BangerError(
          'internal',
          `VM "${rec.name}" was restored from ${restore.label} but its identity could not be refreshed (${(err as Error).message}); it still shares the snapshot's identity: delete it with \`banger vm delete ${rec.name}\``,
          { cause: err },
        );
      }
    }
    // [config: file_sync] every start (boot, restart, restore) ends here with the guest reachable.
    await syncFiles(session, fileSync, rec.name, progress);
    deps.activity?.touch(rec.id); // [config: auto_stop] ready now: the idle time counts from here
  }

  async function halt(rec: VmRecord, timeoutMs: number, progress: Progress): Promise<void> {
    const l = live(rec);
    if (!l.handles) {
      removeHandles(paths.vmFile(rec.id, 'handles'));
      if (rec.state !== 'stopped') store.update(rec.id, { state: 'stopped' });
      await net.release(rec); // it may have died on its own, leaving its tap
      publish();
      return;
    }
    const h = l.handles as unknown as VmHandles;
    store.update(rec.id, { state: 'stopping' });
    const deadline = Date.now() + timeoutMs;
    // 1. In the guest: flush and power off. The command may be cut off by the shutdown itself.
    progress('stop', 'poweroff in the guest');
    try {
      const s = await guest.open(
        { vmId: rec.id, alias: alias(rec.name), host: l.handles.ssh.host, port: l.handles.ssh.port },
        { timeoutMs: Math.min(5000, timeoutMs / 3) },
      );
      await s.run(['sh', '-c', 'sync; (sleep 0.2; systemctl poweroff || poweroff -f) >/dev/null 2>&1 &'], { timeoutMs: 5000 }).catch(() => undefined);
    } catch (err) {
      log.info({ vm: rec.name, err: (err as Error).message }, 'guest poweroff unavailable');
    }
    guest.drop(rec.id);
    let exited = await waitExit(h, Math.max(0, Math.min(deadline - Date.now(), (timeoutMs * 2) / 3)));
    // 2. ACPI power-down, 3. kill.
    if (!exited) {
      progress('stop', 'ACPI power-down');
      exited = await driver.requestPowerOff(h, Math.max(1000, deadline - Date.now())).catch(() => false);
    }
    if (!exited) {
      progress('stop', 'killing the hypervisor');
      await driver.kill(h, 'SIGKILL');
    }
    removeHandles(paths.vmFile(rec.id, 'handles'));
    rmSync(paths.vmRuntimeDir(rec.id), { recursive: true, force: true });
    store.update(rec.id, { state: 'stopped' });
    await net.release(rec);
    publish();
  }

  /** Removes every trace of a VM (process, tap/rules, files, sockets, host key, row). Caller holds vmLock. */
  async function discard(rec: VmRecord, progress: Progress): Promise<void> {
    const l = live(rec);
    if (l.handles) {
      progress('delete', 'stopping the VM');
      await driver.kill(l.handles as unknown as VmHandles, 'SIGKILL').catch(() => undefined);
    }
    guest.drop(rec.id);
    await net.release(rec);
    rmSync(paths.vmDir(rec.id), { recursive: true, force: true });
    rmSync(paths.vmRuntimeDir(rec.id), { recursive: true, force: true });
    await guest.forget(alias(rec.name)).catch(() => undefined);
    store.remove(rec.id);
    publish();
  }

  async function waitExit(h: VmHandles, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (!driver.isRunning(h)) return true;
      await new Promise((r) => setTimeout(r, 200));
    }
    return !driver.isRunning(h);
  }

  return {
    lookup,
    view,
    requireRunning,

    async create(p: VmCreateParams & { start: boolean; waitForSsh: boolean }, progress: Progress, signal?: AbortSignal): Promise<Vm> {
      // Checked before anything is built or stored: a network this host cannot give fails at once.
      const asked = vmNetworkFor(deps.hypervisor, { mode: p.network, nat: p.nat });
      progress('hypervisor', `${deps.hypervisor.driver}: ${deps.hypervisor.driverReason}`);
      const resolved = await deps.artifacts.resolve(p.image, progress);
      const id = randomUUID().replace(/-/g, '').slice(0, 12);
      const defaults = deps.config.vmDefaults;
      const requestedDisk = p.diskSize ? parseSize(p.diskSize)! : undefined;
      const diskSizeBytes = requestedDisk ?? defaults.diskSizeBytes;
      // Warm start: restore the image's post-boot snapshot instead of booting, when it fits.
      const warm =
        p.start !== false && deps.restore
          ? await deps.restore.warmFor(
              { image: p.image, cold: p.cold ?? false, vcpu: p.vcpu, memoryMib: p.memoryMib, diskSizeBytes: requestedDisk, network: asked.mode, resolved },
              progress,
              signal,
            )
          : null;
      const rec = await locks.global.with('names', async () => {
        const name = p.name ?? generateName((n) => store.findByName(n) !== null);
        if (store.findByName(name)) throw new BangerError('already_exists', `a VM named "${name}" already exists; pick another name or delete it first`);
        return store.insert({
          id,
          name,
          image: resolved.image.name,
          kernel: resolved.kernel.name,
          // A warm VM has exactly its snapshot's sizes (the guest saw them at the template's boot).
          vcpu: warm?.vcpu ?? p.vcpu ?? defaults.vcpu,
          memoryMib: warm?.memoryMib ?? p.memoryMib ?? defaults.memoryMib,
          diskSizeBytes: warm?.diskSizeBytes ?? diskSizeBytes,
          network: net.assign({ id, mode: asked.mode, egress: p.egress ?? true, nat: asked.nat, hostAccess: p.hostAccess }, store.list().map((r) => r.network)),
          state: 'stopped',
          workspace: null,
        });
      });
      return locks.vm.with(rec.id, async () => {
        try {
          mkdirSync(paths.vmDir(rec.id), { recursive: true, mode: 0o700 });
          progress('disk', 'creating copy-on-write disk');
          if (warm) await deps.restore!.attach(rec.id, warm, paths.vmFile(rec.id, 'disk'), warm.diskSizeBytes);
          else await driver.disks.createDisk(resolved.image.rootfsPath, paths.vmFile(rec.id, 'disk'), diskSizeBytes, log);
        } catch (err) {
          rmSync(paths.vmDir(rec.id), { recursive: true, force: true });
          store.remove(rec.id);
          throw err;
        }
        if (p.start) await boot(store.get(rec.id)!, progress, p.waitForSsh, signal, warm ?? undefined);
        return view(store.get(rec.id)!);
      });
    },

    /**
     * A new VM restored from a snapshot (vm fork): its own overlay on the snapshot's layer, a restore
     * and a fresh identity. A VM that fails to come up is removed again.
     */
    async createFrom(
      p: { name: string; image: string; kernel: string; egress: boolean; workspace: Workspace | null },
      src: RestoreSource,
      progress: Progress,
      signal?: AbortSignal,
    ): Promise<Vm> {
      if (!deps.restore) throw new BangerError('unavailable', 'this daemon cannot restore snapshots');
      deps.artifacts.pathsFor(p.image, p.kernel); // throws if the image or kernel is gone
      const id = randomUUID().replace(/-/g, '').slice(0, 12);
      const rec = await locks.global.with('names', async () => {
        if (store.findByName(p.name)) throw new BangerError('already_exists', `a VM named "${p.name}" already exists; pick another name or delete it first`);
        return store.insert({
          id,
          name: p.name,
          image: p.image,
          kernel: p.kernel,
          vcpu: src.vcpu,
          memoryMib: src.memoryMib,
          diskSizeBytes: src.diskSizeBytes,
          network: { mode: 'user', egress: p.egress, nat: false },
          state: 'stopped',
          workspace: p.workspace,
        });
      });
      return locks.vm.with(rec.id, async () => {
        try {
          mkdirSync(paths.vmDir(rec.id), { recursive: true, mode: 0o700 });
          await deps.restore!.attach(rec.id, src, paths.vmFile(rec.id, 'disk'), src.diskSizeBytes);
          await boot(store.get(rec.id)!, progress, true, signal, src);
        } catch (err) {
          await discard(store.get(rec.id)!, progress);
          throw err;
        }
        return view(store.get(rec.id)!);
      });
    },

    async start(name: string, waitForSsh: boolean, progress: Progress, signal?: AbortSignal): Promise<Vm> {
      const rec = lookup(name);
      return locks.vm.with(rec.id, async () => {
        await boot(store.get(rec.id)!, progress, waitForSsh, signal);
        return view(store.get(rec.id)!);
      });
    },

    async stop(name: string, timeoutMs: number, progress: Progress): Promise<Vm> {
      const rec = lookup(name);
      return locks.vm.with(rec.id, async () => {
        await halt(store.get(rec.id)!, timeoutMs, progress);
        return view(store.get(rec.id)!);
      });
    },

    async restart(name: string, timeoutMs: number, progress: Progress, signal?: AbortSignal): Promise<Vm> {
      const rec = lookup(name);
      return locks.vm.with(rec.id, async () => {
        await halt(store.get(rec.id)!, timeoutMs, progress);
        await boot(store.get(rec.id)!, progress, true, signal);
        return view(store.get(rec.id)!);
      });
    },

    async kill(name: string, signal: string): Promise<Vm> {
      const rec = lookup(name);
      const sig = (signal.startsWith('SIG') ? signal : `SIG${signal}`) as NodeJS.Signals;
      return locks.vm.with(rec.id, async () => {
        const l = live(store.get(rec.id)!);
        if (!l.handles) throw conflict(`VM "${name}" is not running`, { state: l.state });
        guest.drop(rec.id);
        await driver.kill(l.handles as unknown as VmHandles, sig);
        if (!driver.isRunning(l.handles as unknown as VmHandles)) {
          removeHandles(paths.vmFile(rec.id, 'handles'));
          rmSync(paths.vmRuntimeDir(rec.id), { recursive: true, force: true });
          store.update(rec.id, { state: 'stopped' });
          await net.release(store.get(rec.id)!);
          publish();
        }
        return view(store.get(rec.id)!);
      });
    },

    async delete(name: string, progress: Progress): Promise<void> {
      const rec = lookup(name);
      await locks.vm.with(rec.id, () => discard(store.get(rec.id)!, progress));
    },

    async set(name: string, p: { vcpu?: number; memoryMib?: number; diskSizeBytes?: number; nat?: boolean }): Promise<Vm> {
      const rec = lookup(name);
      return locks.vm.with(rec.id, async () => {
        const cur = store.get(rec.id)!;
        const l = live(cur);
        if (l.state !== 'stopped') throw conflict(`VM "${name}" is ${l.state}; run \`banger vm stop ${name}\` before changing it`, { state: l.state });
        if (p.nat !== undefined) net.checkNat(cur.network, p.nat, name);
        if (p.diskSizeBytes !== undefined) {
          if (p.diskSizeBytes < cur.diskSizeBytes) {
            throw new BangerError('bad_request', `disks only grow: ${name} has ${cur.diskSizeBytes} bytes; pass a larger --disk-size`);
          }
          await driver.disks.growDisk(paths.vmFile(cur.id, 'disk'), p.diskSizeBytes);
        }
        return view(
          store.update(cur.id, {
            vcpu: p.vcpu ?? cur.vcpu,
            memoryMib: p.memoryMib ?? cur.memoryMib,
            diskSizeBytes: p.diskSizeBytes ?? cur.diskSizeBytes,
            network: p.nat === undefined ? cur.network : { ...cur.network, nat: p.nat },
          }),
        );
      });
    },

    list(): Vm[] {
      return store.list().map(view);
    },

    /** Opens (or reuses) the pooled guest session of a running VM; holds vmLock only to copy fields. */
    async session(name: string, signal?: AbortSignal): Promise<{ rec: VmRecord; session: GuestSession; handles: Handles }> {
      const rec = lookup(name);
      const { handles, fresh } = await locks.vm.with(rec.id, async () => {
        const h = requireRunning(store.get(rec.id)!);
        deps.activity?.touch(rec.id); // [config: auto_stop] under the lock, so a pending auto-stop sees it
        return { handles: h, fresh: store.get(rec.id)! };
      });
      const session = await guest.open(
        { vmId: rec.id, alias: alias(rec.name), host: handles.ssh.host, port: handles.ssh.port },
        { timeoutMs: 20_000, signal },
      );
      return { rec: fresh, session, handles };
    },

    /** [config: auto_stop] Records a use (`vm ssh`), or an operation in flight (a running exec) until the returned function is called. */
    touch: (id: string): void => deps.activity?.touch(id),
    hold: (id: string): (() => void) => deps.activity?.hold(id) ?? (() => {}),

    /** [config: auto_stop] Stops the VM gracefully when `stillIdle` (asked under its lock, with its session when SSH answers) holds. */
    async stopIfIdle(name: string, stillIdle: (rec: VmRecord, session: GuestSession | null) => Promise<boolean>, timeoutMs: number): Promise<boolean> {
      const rec = lookup(name);
      return locks.vm.with(rec.id, async () => {
        const cur = store.get(rec.id);
        const l = cur ? live(cur) : null;
        if (!cur || !l || l.state !== 'running' || !l.handles) return false;
        const session = await guest.open({ vmId: cur.id, alias: alias(cur.name), ...l.handles.ssh }, { timeoutMs: 5000 }).catch(() => null);
        if (!(await stillIdle(cur, session))) return false;
        await halt(cur, timeoutMs, (stage, msg) => log.info({ vm: cur.name, stage, msg }, 'auto-stop'));
        return true;
      });
    },

    /** Republishes DNS records and ssh_config (daemon start, and a periodic catch-up for VMs that exit on their own). */
    publish,

    /** At daemon start, after `reconcile`: the host network state of the VMs that still run. */
    reconcileNetwork: () => net.reconcile(store.list().filter((r) => live(r).state === 'running')),

    setWorkspace(id: string, ws: Workspace | null): void {
      store.update(id, { workspace: ws });
    },

    /** At daemon start: adopt VMs whose process is alive, mark the rest stopped, drop stale handles. */
    reconcile(): { adopted: string[]; stopped: string[] } {
      const adopted: string[] = [];
      const stopped: string[] = [];
      for (const rec of store.list()) {
        const h = handlesOf(rec.id);
        const alive = h ? driver.isRunning(h as unknown as VmHandles) : false;
        const d = deriveState(rec.state, { hasHandles: h !== null, processAlive: alive });
        if (alive) {
          if (rec.state !== 'running') store.update(rec.id, { state: 'running' });
          adopted.push(rec.name);
        } else {
          if (h) removeHandles(paths.vmFile(rec.id, 'handles'));
          if (d.action === 'mark-stopped' || rec.state !== 'stopped') {
            store.update(rec.id, { state: 'stopped' });
            stopped.push(rec.name);
          }
        }
      }
      return { adopted, stopped };
    },
  };
}
export type VmService = ReturnType<typeof createVmService>;
