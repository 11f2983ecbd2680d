/**
 * The snapshot service: `vm snapshot` (save state, freeze the disk into a layer), `vm fork`, the
 * snapshot registry, the warm snapshot cache, and the restore hooks the VM service calls.
 *
 * Disk layers. Taking a snapshot of VM X: pause, save memory + device state, then move X's overlay
 * into the snapshot's directory (it becomes the frozen layer; QEMU keeps the file open), give X a
 * new empty overlay on top, switch X to it (QMP blockdev-snapshot-sync) and resume. Every VM
 * restored from the snapshot gets its own overlay on the same frozen layer. So the layer never
 * lives in a VM's directory (a snapshot outlives its VM), and a snapshot is refused deletion while
 * any VM (X included) or later snapshot sits on it.
 *
 * Locks: a snapshot holds the VM's workspace lock (never freeze a half-streamed workspace import)
 * and then its vmLock, for the whole save. Name reservations and reference changes use the global
 * lock for milliseconds.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { BangerError, conflict, notFound } from '../api/errors.js';
import type { Progress } from '../api/progress.js';
import type { Snapshot, SnapshotSpec } from '../api/snapshot.js';
import type { Vm } from '../api/vm.js';
import type { Config } from '../config/config.js';
import { SingleFlight, type Locks } from '../host/locks.js';
import type { Logger } from '../host/logger.js';
import type { Driver, VmHandles } from '../hypervisor/driver.js';
import { freePort } from '../network/ports.js';
import { readHandles, writeHandles } from '../store/handles.js';
import type { Paths } from '../store/paths.js';
import type { SnapshotRecord, SnapshotStore } from '../store/snapshots.js';
import type { VmRecord, VmStore } from '../store/vms.js';
import { USER_NET, buildBootArgs } from '../vms/bootargs.js';
import type { ArtifactAccess, GuestAccess, GuestSession, ResolvedBoot, RestoreHooks, RestoreSource, VmService, WarmRequestInput } from '../vms/service.js';
import { restoreBlocker, snapshotUnsupported } from './compat.js';
import { applyIdentity } from './identity-step.js';
import { qemuImgLayers, type LayerOps } from './layers.js';
import { autoSnapshotName, forkNames, staleWarmName, uniqueName, warmName } from './names.js';
import { decideWarm, warmCacheAction, warmKey } from './warm.js';

export interface SnapshotServiceDeps {
  paths: Paths;
  config: Config;
  store: SnapshotStore;
  vmStore: VmStore;
  /** The VM service (a getter: the two services are built around each other). */
  vms: () => VmService;
  driver: Driver;
  driverName: string;
  accel: 'kvm' | 'tcg';
  locks: Locks;
  guest: GuestAccess;
  artifacts: ArtifactAccess;
  log: Logger;
  layers?: LayerOps;
  /** How many fork children are restored at once. @default 2 */
  forkParallelism?: number;
  /** The warm template's wait for SSH. @default 180000 */
  sshTimeoutMs?: number;
}

const alias = (name: string) => `${name}.vm`;
const newId = () => randomUUID().replace(/-/g, '').slice(0, 12);

export function createSnapshotService(deps: SnapshotServiceDeps) {
  const { paths, config, store, vmStore, driver, driverName, locks, guest, log } = deps;
  const layers = deps.layers ?? qemuImgLayers();
  const forkParallelism = deps.forkParallelism ?? 2;
  const sshTimeoutMs = deps.sshTimeoutMs ?? 180_000;
  const flights = new SingleFlight();
  /** Snapshot names being created right now (reserved before their row exists). */
  const pendingNames = new Set<string>();
  /** Warm keys whose build failed in this daemon's life: not retried on every create (a restart retries). */
  const warmFailures = new Map<string, string>();

  let infoPromise: Promise<{ version: string; unsupported: string | null }> | undefined;
  function ability() {
    infoPromise ??= driver.info().then(
      (i) => ({
        version: i.version,
        unsupported: snapshotUnsupported({
          name: driverName,
          features: i.features,
          canSave: !!driver.snapshots,
          canSwitchDisk: !!driver.snapshots?.switchDisk,
        }),
      }),
      (err: Error) => ({ version: 'unknown', unsupported: `the ${driverName} driver did not report its abilities (${err.message})` }),
    );
    return infoPromise;
  }
  async function requireAbility(): Promise<string> {
    const a = await ability();
    if (a.unsupported) throw new BangerError('unavailable', `snapshots are not available: ${a.unsupported}`);
    return a.version;
  }

  const statePath = (id: string) => paths.snapshotFile(id, 'state');
  const layerPath = (id: string) => paths.snapshotFile(id, 'disk');

  function sourceOf(s: SnapshotRecord, identity: RestoreSource['identity']): RestoreSource {
    return {
      snapshotId: s.id,
      label: s.kind === 'warm' ? s.name : `snapshot ${s.name}`,
      statePath: statePath(s.id),
      layerPath: layerPath(s.id),
      vcpu: s.spec.vcpu,
      memoryMib: s.spec.memoryMib,
      diskSizeBytes: s.spec.diskSizeBytes,
      identity,
    };
  }

  function lookup(name: string): SnapshotRecord {
    const s = store.findByName(name);
    if (!s) throw notFound('snapshot', name, 'run `banger snapshot list`');
    return s;
  }

  /** Bytes of the saved state (one file for QEMU; Firecracker writes a state and a memory file). */
  function stateBytesOf(id: string): number {
    const dir = paths.snapshotDir(id);
    return readdirSync(dir)
      .filter((f) => f.startsWith('state.bin'))
      .reduce((n, f) => n + statSync(`${dir}/${f}`).size, 0);
  }

  async function describe(s: SnapshotRecord): Promise<Snapshot> {
    return {
      id: s.id,
      name: s.name,
      kind: s.kind,
      sourceVm: s.sourceVm,
      parent: s.parentId ? (store.get(s.parentId)?.name ?? s.parentId) : null,
      image: s.image,
      kernel: s.kernel,
      vcpu: s.spec.vcpu,
      memoryMib: s.spec.memoryMib,
      diskSizeBytes: s.spec.diskSizeBytes,
      accel: s.spec.accel,
      hypervisor: s.spec.hypervisor,
      stateBytes: s.stateBytes,
      layerBytes: await layers.usedBytes(layerPath(s.id)),
      workspace: s.spec.workspace,
      usedBy: store.usersOf(s.id),
      createdAt: s.createdAt,
    };
  }

  /** Reserves a snapshot name until released; a taken explicit name is an error, an automatic one is made unique. */
  function reserveName(name: string, explicit: boolean): Promise<{ name: string; release: () => void }> {
    return locks.global.with('snapshot-names', async () => {
      const taken = (n: string) => store.findByName(n) !== null || pendingNames.has(n);
      if (explicit && taken(name)) throw new BangerError('already_exists', `a snapshot named "${name}" already exists; pick another --name or delete it first`);
      const final = explicit ? name : uniqueName(name, taken);
      pendingNames.add(final);
      return { name: final, release: () => void pendingNames.delete(final) };
    });
  }

  function removeFiles(id: string): void {
    rmSync(paths.snapshotDir(id), { recursive: true, force: true });
  }

  // ---- vm snapshot ----

  async function snapshotVm(p: { name: string; snapshot?: string; stop: boolean }, progress: Progress): Promise<Snapshot> {
    const version = await requireAbility();
    const sm = driver.snapshots!;
    const rec = deps.vms().lookup(p.name);
    const reservation = await reserveName(p.snapshot ?? autoSnapshotName(rec.name, new Date()), p.snapshot !== undefined);
    let stopAfter = false;
    let snap: SnapshotRecord;
    try {
      snap = await locks.workspace.with(rec.id, () =>
        locks.vm.with(rec.id, async () => {
          const cur = vmStore.get(rec.id);
          if (!cur) throw notFound('VM', p.name, 'run `banger vm list`');
          const handles = deps.vms().requireRunning(cur);
          const h = handles as unknown as VmHandles;
          const id = newId();
          const dir = paths.snapshotDir(id);
          mkdirSync(dir, { recursive: true, mode: 0o700 });
          const vmDisk = paths.vmFile(cur.id, 'disk');
          const layer = layerPath(id);
          const parent = store.refOf(cur.id);
          const session = () =>
            guest.open({ vmId: cur.id, alias: alias(cur.name), host: handles.ssh.host, port: handles.ssh.port }, { timeoutMs: 5000 });
          let row: SnapshotRecord | null = null;
          try {
            const sizeBytes = await layers.virtualSize(vmDisk);
            // Best effort: flushed guest buffers keep the frozen layer close to what the guest sees.
            await session()
              .then((s) => s.run(['sync'], { timeoutMs: 15_000 }))
              .catch((err: Error) => log.info({ vm: cur.name, err: err.message }, 'sync before snapshot skipped'));
            progress('snapshot', `saving ${cur.name}'s memory and device state`);
            await sm.pause(h);
            try {
              await sm.saveState(h, statePath(id));
              // The row and the VM's reference are written before any file moves: after a crash a
              // directory without a row never holds a disk layer that something depends on.
              const spec: SnapshotSpec = {
                vcpu: cur.vcpu,
                memoryMib: cur.memoryMib,
                diskSizeBytes: sizeBytes,
                accel: handles.accel,
                hypervisor: driverName,
                hypervisorVersion: version,
                network: cur.network.mode,
                workspace: cur.workspace,
              };
              row = store.transaction(() => {
                const r = store.insert({
                  id,
                  name: reservation.name,
                  kind: 'user',
                  parentId: parent?.snapshotId ?? null,
                  sourceVm: cur.name,
                  image: cur.image,
                  kernel: cur.kernel,
                  spec,
                  stateBytes: stateBytesOf(id),
                });
                // With --stop the VM's next start resumes from this snapshot.
                store.setRef(cur.id, id, p.stop);
                return r;
              });
              progress('snapshot', 'freezing the disk into a read-only layer');
              renameSync(vmDisk, layer);
              try {
                await layers.overlayOn(layer, vmDisk, sizeBytes, { unsafe: true });
                await sm.switchDisk!(h, vmDisk);
              } catch (err) {
                rmSync(vmDisk, { force: true });
                renameSync(layer, vmDisk);
                throw err;
              }
            } catch (err) {
              if (row) {
                store.transaction(() => {
                  if (parent) store.setRef(cur.id, parent.snapshotId, parent.resume);
                  else store.removeRef(cur.id);
                  store.remove(id);
                });
              }
              await sm.resume(h).catch((e: Error) => log.error({ vm: cur.name, err: e.message }, 'could not resume after a failed snapshot'));
              throw err;
            }
            // Committed: the VM writes its new overlay; the layer is never written again.
            await layers.seal(layer);
            if (p.stop) stopAfter = true;
            else {
              await sm.resume(h);
              // The pause stopped the guest's clock; put it right (best effort).
              await session()
                .then((s) => s.run(['date', '-u', '-s', `@${(Date.now() / 1000).toFixed(3)}`], { timeoutMs: 10_000 }))
                .catch((err: Error) => log.info({ vm: cur.name, err: err.message }, 'clock not reset after snapshot'));
            }
            return row;
          } catch (err) {
            if (!store.get(id)) removeFiles(id);
            throw err;
          }
        }),
      );
    } finally {
      reservation.release();
    }
    if (stopAfter) {
      progress('snapshot', `stopping ${rec.name}`);
      await deps.vms().kill(rec.name, 'SIGKILL');
    }
    log.info({ vm: rec.name, snapshot: snap.name, stateBytes: snap.stateBytes, stop: p.stop }, 'snapshot taken');
    return describe(snap);
  }

  // ---- vm fork ----

  async function fork(
    p: { source: string; name: string; count: number; egress: boolean },
    progress: Progress,
    signal?: AbortSignal,
  ): Promise<{ snapshot: string; vms: Vm[] }> {
    await requireAbility();
    const names = forkNames(p.name, p.count);
    const clash = names.filter((n) => vmStore.findByName(n) !== null);
    if (clash.length) throw new BangerError('already_exists', `VM ${clash.map((n) => `"${n}"`).join(', ')} already exist${clash.length === 1 ? 's' : ''}; pick another --name`);
    let snap = store.findByName(p.source);
    if (!snap) {
      const vm = vmStore.findByName(p.source);
      if (!vm) throw notFound('snapshot or VM', p.source, 'run `banger snapshot list` or `banger vm list`');
      progress('fork', `snapshotting ${vm.name} first`);
      snap = store.get((await snapshotVm({ name: vm.name, stop: false }, progress)).id)!;
    }
    const blocker = restoreBlocker(snap.spec, { accel: deps.accel, hypervisor: driverName });
    if (blocker) throw conflict(`cannot fork snapshot "${snap.name}": ${blocker}`);
    const src = sourceOf(snap, 'fresh');
    const from = snap;
    const label = (n: string): Progress => (names.length === 1 ? progress : (stage, message) => progress(stage, `${n}: ${message ?? stage}`));
    const settled = await mapLimit(names, forkParallelism, (n) =>
      deps.vms().createFrom({ name: n, image: from.image, kernel: from.kernel, egress: p.egress, workspace: from.spec.workspace }, src, label(n), signal),
    );
    const made = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = settled.flatMap((r, i) => (r.status === 'rejected' ? [{ name: names[i], err: r.reason as Error }] : []));
    if (failed.length) {
      const first = failed[0].err;
      throw new BangerError(
        first instanceof BangerError ? first.code : 'internal',
        `fork of "${snap.name}": ${failed.map((f) => f.name).join(', ')} failed (${first.message})${made.length ? `; created ${made.map((v) => v.name).join(', ')}` : ''}`,
        { cause: first, details: { created: made.map((v) => v.name), failed: failed.map((f) => f.name) } },
      );
    }
    return { snapshot: snap.name, vms: made };
  }

  // ---- delete and guards ----

  function refuseIfUsed(s: SnapshotRecord): void {
    const users = store.usersOf(s.id);
    const named = [...users.vms.map((n) => `VM ${n}`), ...users.snapshots.map((n) => `snapshot ${n}`)];
    if (named.length) {
      throw new BangerError('conflict', `snapshot "${s.name}" is the disk layer under ${named.join(', ')}; delete those first`, { details: { users } });
    }
  }

  async function deleteSnapshot(name: string): Promise<{ name: string; id: string }> {
    return locks.global.with('snapshot-refs', async () => {
      const s = lookup(name);
      refuseIfUsed(s);
      store.remove(s.id);
      removeFiles(s.id);
      log.info({ snapshot: s.name }, 'snapshot deleted');
      return { name: s.name, id: s.id };
    });
  }

  /** A warm snapshot that no longer matches: deleted when unused, else renamed aside until its VMs go. */
  function retireWarm(s: SnapshotRecord): void {
    const users = store.usersOf(s.id);
    if (users.vms.length === 0 && users.snapshots.length === 0) {
      store.remove(s.id);
      removeFiles(s.id);
    } else if (!s.name.includes(':stale-')) {
      store.rename(s.id, staleWarmName(s.image, s.id));
    }
  }

  /** Deletes replaced warm snapshots nothing uses any more. */
  function collectStaleWarm(): string[] {
    const removed: string[] = [];
    for (const s of store.list()) {
      if (s.kind !== 'warm' || !s.name.includes(':stale-')) continue;
      const users = store.usersOf(s.id);
      if (users.vms.length || users.snapshots.length) continue;
      store.remove(s.id);
      removeFiles(s.id);
      removed.push(s.name);
    }
    return removed;
  }

  /**
   * Before an image or kernel is deleted: user snapshots made from it refuse the delete (with their
   * names); unused warm snapshots of it are dropped (they are a cache). VMs using it are the
   * artifact service's to report.
   */
  function beforeArtifactDelete(kind: 'image' | 'kernel', name: string): void {
    const column = kind === 'image' ? 'image_name' : 'kernel_name';
    if (vmStore.usersOf(column, name).length) return;
    const snaps = store.byArtifact(column, name);
    const userSnaps = snaps.filter((s) => s.kind === 'user');
    if (userSnaps.length) {
      throw new BangerError(
        'conflict',
        `${kind} "${name}" is used by snapshot ${userSnaps.map((s) => s.name).join(', ')}; delete those first (banger snapshot delete NAME)`,
        { details: { users: userSnaps.map((s) => `snapshot ${s.name}`) } },
      );
    }
    for (const s of snaps) retireWarm(s);
  }

  // ---- warm start ----

  async function ensureWarm(req: WarmRequestInput, key: string, version: string, progress: Progress, signal?: AbortSignal): Promise<SnapshotRecord> {
    const image = req.resolved.image.name;
    const cached = store.findByName(warmName(image));
    const action = warmCacheAction(cached ? { warmKey: cached.spec.warmKey } : null, key);
    collectStaleWarm();
    if (action === 'use') return cached!;
    if (action === 'replace') {
      progress('warm', `the image, kernel or VM defaults changed since ${warmName(image)} was made: rebuilding it`);
      retireWarm(cached!);
    }
    return buildWarm(req.resolved, key, version, progress, signal);
  }

  /** Boots a template VM of the image, waits until it has settled, saves it, throws the template away. */
  async function buildWarm(resolved: ResolvedBoot, key: string, version: string, progress: Progress, signal?: AbortSignal): Promise<SnapshotRecord> {
    const image = resolved.image.name;
    const d = config.vmDefaults;
    const id = newId();
    const dir = paths.snapshotDir(id);
    const templateId = `warm-${id}`;
    const runtimeDir = paths.vmRuntimeDir(templateId);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
    progress('warm', `building ${warmName(image)}: one boot now, then VMs of ${image} restore it instead of booting`);
    let h: VmHandles | null = null;
    try {
      await driver.disks.createDisk(resolved.image.rootfsPath, layerPath(id), d.diskSizeBytes, log);
      const port = await freePort();
      h = await driver.start(
        {
          id: templateId,
          name: 'banger-warm',
          vcpu: d.vcpu,
          memoryMib: d.memoryMib,
          kernelPath: resolved.kernel.vmlinuxPath,
          initrdPath: resolved.kernel.initrdPath,
          cmdline: buildBootArgs({ hostname: 'banger-warm', sshKeyBlob: await guest.publicKeyBlob(), net: USER_NET, accel: deps.accel }),
          diskPath: layerPath(id),
          diskFormat: 'qcow2',
          serialLogPath: paths.snapshotFile(id, 'serial'),
          logPath: paths.snapshotFile(id, 'hypervisorLog'),
          runtimeDir,
          accel: deps.accel,
          network: { mode: 'user', sshHostPort: port, egress: false, forwards: [] },
        },
        log.child({ warm: image }),
      );
      // Kept until the template is gone, so a daemon that dies meanwhile can end it at next start.
      writeHandles(paths.snapshotFile(id, 'handles'), { ...h, driver: driverName, ssh: { host: '127.0.0.1', port }, forwards: [] });
      progress('warm', 'waiting for the template to boot');
      const templateAlias = alias(templateId);
      const s = await guest.open({ vmId: templateId, alias: templateAlias, host: '127.0.0.1', port }, { timeoutMs: sshTimeoutMs, signal });
      // Grow the file system to the disk size (as every boot does) and let boot jobs finish, so
      // restored VMs do not redo them; then flush.
      await s.run(['sh', '-c', 'resize2fs /dev/vda >/dev/null 2>&1; timeout 90 systemctl is-system-running --wait >/dev/null 2>&1; sync; true'], {
        timeoutMs: 120_000,
      });
      guest.drop(templateId);
      await guest.forget(templateAlias);
      progress('warm', 'saving the template');
      await driver.snapshots!.saveState(h, statePath(id));
      await driver.kill(h, 'SIGKILL');
      h = null;
      await layers.seal(layerPath(id));
      const row = store.insert({
        id,
        name: warmName(image),
        kind: 'warm',
        parentId: null,
        sourceVm: null,
        image,
        kernel: resolved.kernel.name,
        spec: {
          vcpu: d.vcpu,
          memoryMib: d.memoryMib,
          diskSizeBytes: await layers.virtualSize(layerPath(id)),
          accel: deps.accel,
          hypervisor: driverName,
          hypervisorVersion: version,
          network: 'user',
          workspace: null,
          warmKey: key,
        },
        stateBytes: stateBytesOf(id),
      });
      log.info({ image, snapshot: row.name, stateBytes: row.stateBytes }, 'warm snapshot built');
      return row;
    } catch (err) {
      if (h) await driver.kill(h, 'SIGKILL').catch(() => undefined);
      guest.drop(templateId);
      await guest.forget(alias(templateId)).catch(() => undefined);
      removeFiles(id);
      throw err;
    } finally {
      rmSync(paths.snapshotFile(id, 'handles'), { force: true });
      rmSync(runtimeDir, { recursive: true, force: true });
    }
  }

  // ---- restore hooks for the VM service ----

  const hooks: RestoreHooks = {
    async warmFor(req, progress, signal) {
      const a = await ability();
      const d = config.vmDefaults;
      const decision = decideWarm({
        cold: req.cold,
        image: req.image,
        defaultImage: config.defaultImageName,
        vcpu: req.vcpu,
        memoryMib: req.memoryMib,
        diskSizeBytes: req.diskSizeBytes,
        network: req.network,
        defaults: d,
        unsupported: a.unsupported,
      });
      if (decision.mode === 'cold') {
        if (decision.reason) progress('warm', decision.reason);
        return null;
      }
      const image = req.resolved.image.name;
      const imageSha = store.artifactSha('images', image);
      const kernelSha = store.artifactSha('kernels', req.resolved.kernel.name);
      if (!imageSha || !kernelSha) return null;
      const key = warmKey({
        imageSha,
        kernelSha,
        vcpu: d.vcpu,
        memoryMib: d.memoryMib,
        diskSizeBytes: d.diskSizeBytes,
        accel: deps.accel,
        hypervisor: driverName,
        hypervisorVersion: a.version,
        sshKeyBlob: await guest.publicKeyBlob(),
      });
      const failed = warmFailures.get(key);
      if (failed) {
        progress('warm', `cold boot: building ${warmName(image)} failed earlier (${failed}); restart the daemon to retry`);
        return null;
      }
      try {
        const snap = await flights.run(`warm:${image}`, () => ensureWarm(req, key, a.version, progress, signal));
        return sourceOf(snap, 'fresh');
      } catch (err) {
        const why = (err as Error).message;
        // A cancelled request is not the build's fault.
        if (!signal?.aborted) warmFailures.set(key, why);
        log.warn({ image, err: why }, 'warm snapshot unavailable; booting');
        progress('warm', `cold boot: ${warmName(image)} could not be built (${why})`);
        return null;
      }
    },

    async attach(vmId, src, diskPath, sizeBytes) {
      await locks.global.with('snapshot-refs', async () => {
        if (!store.get(src.snapshotId)) throw notFound('snapshot', src.label, 'run `banger snapshot list`');
        // unsafe: the layer may be open (read-only) in the VM it came from; the size is given.
        await layers.overlayOn(src.layerPath, diskPath, sizeBytes, { unsafe: true });
        store.setRef(vmId, src.snapshotId);
      });
    },

    async refresh(session: GuestSession, vm, src, progress) {
      await applyIdentity(session, vm, src.identity === 'fresh', { trustHostKey: (a, l) => guest.trustHostKey(a, l), log }, progress);
    },

    resumeFor(vm: VmRecord, progress) {
      const ref = store.refOf(vm.id);
      if (!ref?.resume) return null;
      // Resume once: whatever happens next, a later start boots from the disk.
      store.setResume(vm.id, false);
      const s = store.get(ref.snapshotId);
      if (!s) return null;
      const blocker =
        restoreBlocker(s.spec, { accel: deps.accel, hypervisor: driverName }) ??
        (s.spec.vcpu !== vm.vcpu || s.spec.memoryMib !== vm.memoryMib || s.spec.diskSizeBytes !== vm.diskSizeBytes ? 'the VM was resized since' : null);
      if (blocker || !existsSync(statePath(s.id))) {
        progress('boot', `booting instead of resuming from snapshot ${s.name}: ${blocker ?? 'its saved state is missing'}`);
        return null;
      }
      return { ...sourceOf(s, 'same'), label: `snapshot ${s.name} (resuming)` };
    },
  };

  /** At daemon start: end templates of interrupted warm builds, drop directories without a row, collect stale warm snapshots. */
  async function recover(): Promise<{ removed: string[] }> {
    const removed: string[] = [];
    if (existsSync(paths.snapshotsDir)) {
      for (const id of readdirSync(paths.snapshotsDir)) {
        if (store.get(id)) continue;
        const h = readHandles(paths.snapshotFile(id, 'handles'));
        if (h && driver.isRunning(h as unknown as VmHandles)) await driver.kill(h as unknown as VmHandles, 'SIGKILL').catch(() => undefined);
        removeFiles(id);
        rmSync(paths.vmRuntimeDir(`warm-${id}`), { recursive: true, force: true });
        removed.push(id);
      }
    }
    removed.push(...collectStaleWarm());
    return { removed };
  }

  return {
    hooks,
    snapshotVm,
    fork,
    list: async (): Promise<Snapshot[]> => Promise.all(store.list().map(describe)),
    show: async (name: string): Promise<Snapshot> => describe(lookup(name)),
    delete: deleteSnapshot,
    beforeArtifactDelete,
    recover,
  };
}
export type SnapshotService = ReturnType<typeof createSnapshotService>;

/** Runs `fn` over `items`, at most `limit` at a time; never rejects. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const out: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = { status: 'fulfilled', value: await fn(items[i]) };
      } catch (reason) {
        out[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
