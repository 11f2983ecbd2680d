/**
 * The VM lifecycle service. Every lifecycle operation holds vmLock(id) for its whole length;
 * name reservation takes the global lock for milliseconds. Dependencies come in explicitly.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { BangerError, conflict, notFound } from '../api/errors.js';
import type { Progress } from '../api/progress.js';
import type { Vm, VmCreateParams, VmState, Workspace } from '../api/vm.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../host/logger.js';
import type { Driver, VmHandles } from '../hypervisor/driver.js';
import type { Locks } from '../daemon/locks.js';
import type { GuestConnection } from '../guest/ssh.js';
import { freePort } from '../network/ports.js';
import { readHandles, removeHandles, writeHandles, type Handles } from '../store/handles.js';
import type { Paths } from '../store/paths.js';
import type { VmRecord, VmStore } from '../store/vms.js';
import { USER_NET, buildBootArgs } from './bootargs.js';
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

export interface VmServiceDeps {
  paths: Paths;
  config: Config;
  store: VmStore;
  driver: Driver;
  driverName: string;
  accel: 'kvm' | 'tcg';
  locks: Locks;
  guest: GuestAccess;
  artifacts: ArtifactAccess;
  log: Logger;
  /** How long to wait for SSH after boot. */
  sshTimeoutMs?: number;
}

const alias = (name: string) => `${name}.vm`;

export function createVmService(deps: VmServiceDeps) {
  const { paths, store, driver, locks, guest, log } = deps;
  const sshTimeoutMs = deps.sshTimeoutMs ?? 180_000;

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
    };
  }

  function requireRunning(rec: VmRecord): Handles {
    const l = live(rec);
    if (l.state !== 'running' || !l.handles) {
      throw conflict(`VM "${rec.name}" is ${l.state}; run \`banger vm start ${rec.name}\` first`, { state: l.state });
    }
    return l.handles;
  }

  async function boot(rec: VmRecord, progress: Progress, waitForSsh: boolean, signal?: AbortSignal): Promise<void> {
    const l = live(rec);
    if (l.state === 'running') return;
    const boot = deps.artifacts.pathsFor(rec.image, rec.kernel);
    const sshPort = await freePort();
    const runtimeDir = paths.vmRuntimeDir(rec.id);
    mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
    const cmdline = buildBootArgs({
      hostname: rec.name,
      sshKeyBlob: await guest.publicKeyBlob(),
      net: rec.network.mode === 'user' ? USER_NET : null,
      accel: deps.accel,
    });
    store.update(rec.id, { state: 'starting' });
    progress('boot', `starting ${deps.driverName} (${deps.accel})`);
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
          network: { mode: 'user', sshHostPort: sshPort, egress: rec.network.egress, forwards: [] },
        },
        log.child({ vm: rec.name }),
      );
    } catch (err) {
      store.update(rec.id, { state: 'stopped' });
      throw err;
    }
    const handles: Handles = { ...h, driver: deps.driverName, ssh: { host: '127.0.0.1', port: sshPort }, forwards: [] };
    writeHandles(paths.vmFile(rec.id, 'handles'), handles);
    store.update(rec.id, { state: 'running' });
    if (!waitForSsh) return;
    progress('ssh', 'waiting for SSH');
    try {
      const s = await guest.open({ vmId: rec.id, alias: alias(rec.name), host: '127.0.0.1', port: sshPort }, { timeoutMs: sshTimeoutMs, signal });
      // The disk may be larger than the image's file system (vm create/set --disk-size): grow it online.
      await s.run(['sh', '-c', 'resize2fs /dev/vda >/dev/null 2>&1 || true'], { timeoutMs: 60_000 });
    } catch (err) {
      if (err instanceof BangerError && err.code === 'conflict') throw err; // host key mismatch: say so as is
      throw new BangerError(
        'unavailable',
        `VM "${rec.name}" started but SSH did not answer within ${Math.round(sshTimeoutMs / 1000)}s; the VM is kept: see \`banger vm logs ${rec.name}\`, then \`banger vm delete ${rec.name}\``,
        { cause: err },
      );
    }
  }

  async function halt(rec: VmRecord, timeoutMs: number, progress: Progress): Promise<void> {
    const l = live(rec);
    if (!l.handles) {
      removeHandles(paths.vmFile(rec.id, 'handles'));
      if (rec.state !== 'stopped') store.update(rec.id, { state: 'stopped' });
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
      if (p.network === 'bridge') {
        throw new BangerError('bad_request', 'bridge networking is not available yet; use --network user (the default)');
      }
      const resolved = await deps.artifacts.resolve(p.image, progress);
      const id = randomUUID().replace(/-/g, '').slice(0, 12);
      const defaults = deps.config.vmDefaults;
      const diskSizeBytes = p.diskSize ? (await import('../api/names.js')).parseSize(p.diskSize)! : defaults.diskSizeBytes;
      const rec = await locks.global.with('names', async () => {
        const name = p.name ?? generateName((n) => store.findByName(n) !== null);
        if (store.findByName(name)) throw new BangerError('already_exists', `a VM named "${name}" already exists; pick another name or delete it first`);
        return store.insert({
          id,
          name,
          image: resolved.image.name,
          kernel: resolved.kernel.name,
          vcpu: p.vcpu ?? defaults.vcpu,
          memoryMib: p.memoryMib ?? defaults.memoryMib,
          diskSizeBytes,
          network: { mode: p.network ?? 'user', egress: p.egress ?? true, nat: p.nat ?? false },
          state: 'stopped',
          workspace: null,
        });
      });
      return locks.vm.with(rec.id, async () => {
        try {
          mkdirSync(paths.vmDir(rec.id), { recursive: true, mode: 0o700 });
          progress('disk', 'creating copy-on-write disk');
          await driver.disks.createDisk(resolved.image.rootfsPath, paths.vmFile(rec.id, 'disk'), diskSizeBytes, log);
        } catch (err) {
          rmSync(paths.vmDir(rec.id), { recursive: true, force: true });
          store.remove(rec.id);
          throw err;
        }
        if (p.start) await boot(store.get(rec.id)!, progress, p.waitForSsh, signal);
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
        }
        return view(store.get(rec.id)!);
      });
    },

    async delete(name: string, progress: Progress): Promise<void> {
      const rec = lookup(name);
      await locks.vm.with(rec.id, async () => {
        const l = live(store.get(rec.id)!);
        if (l.handles) {
          progress('delete', 'stopping the VM');
          guest.drop(rec.id);
          await driver.kill(l.handles as unknown as VmHandles, 'SIGKILL');
        }
        rmSync(paths.vmDir(rec.id), { recursive: true, force: true });
        rmSync(paths.vmRuntimeDir(rec.id), { recursive: true, force: true });
        await guest.forget(alias(rec.name));
        store.remove(rec.id);
      });
    },

    async set(name: string, p: { vcpu?: number; memoryMib?: number; diskSizeBytes?: number; nat?: boolean }): Promise<Vm> {
      const rec = lookup(name);
      return locks.vm.with(rec.id, async () => {
        const cur = store.get(rec.id)!;
        const l = live(cur);
        if (l.state !== 'stopped') throw conflict(`VM "${name}" is ${l.state}; run \`banger vm stop ${name}\` before changing it`, { state: l.state });
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
      const { handles, fresh } = await locks.vm.with(rec.id, async () => ({ handles: requireRunning(store.get(rec.id)!), fresh: store.get(rec.id)! }));
      const session = await guest.open(
        { vmId: rec.id, alias: alias(rec.name), host: handles.ssh.host, port: handles.ssh.port },
        { timeoutMs: 20_000, signal },
      );
      return { rec: fresh, session, handles };
    },

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

    vmDirExists(id: string): boolean {
      return existsSync(paths.vmDir(id));
    },
  };
}
export type VmService = ReturnType<typeof createVmService>;
