/**
 * The snapshot registry: rows and their directories, what the driver can do (asked once), the
 * files of one snapshot, how a snapshot is described to clients, and the guards and collection
 * that keep a layer alive while anything sits on it. Shared by take, fork, the warm cache and
 * restore; daemon/main.ts builds one.
 *
 * Disk layers. Taking a snapshot of VM X moves X's overlay into the snapshot's directory (it
 * becomes the frozen layer) and gives X a new overlay on top; every VM restored from it gets its
 * own overlay on the same layer. So the layer never lives in a VM's directory (a snapshot
 * outlives its VM), and a snapshot is refused deletion while any VM (X included) or later
 * snapshot sits on it. Rows are written before files move; at daemon start only directories
 * without a row are removed.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { BangerError, notFound } from '../api/errors.js';
import type { Snapshot } from '../api/snapshot.js';
import type { Locks } from '../host/locks.js';
import type { Logger } from '../host/logger.js';
import type { Driver } from '../hypervisor/driver.js';
import { readHandles } from '../store/handles.js';
import type { Paths } from '../store/paths.js';
import type { SnapshotRecord, SnapshotStore } from '../store/snapshots.js';
import type { VmStore } from '../store/vms.js';
import type { RestoreSource } from '../vms/contracts.js';
import { snapshotUnsupported, type SnapshotFiles } from './compat.js';
import type { LayerOps } from '../hypervisor/layers.js';
import { staleWarmName } from './names.js';

export interface SnapshotRegistryDeps {
  paths: Paths;
  store: SnapshotStore;
  vmStore: Pick<VmStore, 'usersOf'>;
  driver: Driver;
  driverName: string;
  layers: LayerOps;
  locks: Locks;
  log: Logger;
}

export interface SnapshotRegistry {
  readonly store: SnapshotStore;
  readonly layers: LayerOps;
  /** The driver's version, and why it cannot snapshot here (null: it can). Asked once. */
  ability(): Promise<{ version: string; unsupported: string | null }>;
  /** The driver's version, or `unavailable` saying why snapshots cannot be taken here. */
  requireAbility(): Promise<string>;
  statePath(id: string): string;
  /** Where the snapshot's RAM file goes (present only when the driver wrote one: the state is then device-only). */
  memoryPath(id: string): string;
  layerPath(id: string): string;
  /** Bytes of the saved state (one file for QEMU; Firecracker writes a state and a memory file). */
  stateBytesOf(id: string): number;
  removeFiles(id: string): void;
  /** Sizes of the saved state and memory file on disk (null: missing), for `snapshotDamage`. */
  filesOf(id: string): SnapshotFiles;
  sourceOf(s: SnapshotRecord, identity: RestoreSource['identity']): RestoreSource;
  lookup(name: string): SnapshotRecord;
  describe(s: SnapshotRecord): Promise<Snapshot>;
  list(): Promise<Snapshot[]>;
  show(name: string): Promise<Snapshot>;
  delete(name: string): Promise<{ name: string; id: string }>;
  /** A warm snapshot that no longer matches: deleted when unused, else renamed aside until its VMs go. */
  retireWarm(s: SnapshotRecord): void;
  /** Deletes replaced warm snapshots nothing uses any more. */
  collectStaleWarm(): string[];
  /**
   * Before an image or kernel is deleted: user snapshots made from it refuse the delete (with their
   * names); unused warm snapshots of it are dropped (they are a cache). VMs using it are the
   * artifact service's to report.
   */
  beforeArtifactDelete(kind: 'image' | 'kernel', name: string): void;
  /**
   * At daemon start: end templates of interrupted warm builds, drop directories without a row, collect
   * stale warm snapshots, seal layers a crash left writable.
   */
  recover(): Promise<{ removed: string[]; resealed: string[] }>;
}

export function createSnapshotRegistry(deps: SnapshotRegistryDeps): SnapshotRegistry {
  const { paths, store, vmStore, driver, driverName, layers, locks, log } = deps;

  let infoPromise: Promise<{ version: string; unsupported: string | null }> | undefined;
  const ability = () => {
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
  };

  const statePath = (id: string) => paths.snapshotFile(id, 'state');
  const memoryPath = (id: string) => paths.snapshotFile(id, 'memory');
  const layerPath = (id: string) => paths.snapshotFile(id, 'disk');
  const removeFiles = (id: string) => rmSync(paths.snapshotDir(id), { recursive: true, force: true });

  function lookup(name: string): SnapshotRecord {
    const s = store.findByName(name);
    if (!s) throw notFound('snapshot', name, 'run `banger snapshot list`');
    return s;
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

  function refuseIfUsed(s: SnapshotRecord): void {
    const users = store.usersOf(s.id);
    const named = [...users.vms.map((n) => `VM ${n}`), ...users.snapshots.map((n) => `snapshot ${n}`)];
    if (named.length) {
      throw new BangerError('conflict', `snapshot "${s.name}" is the disk layer under ${named.join(', ')}; delete those first`, { details: { users } });
    }
  }

  function retireWarm(s: SnapshotRecord): void {
    const users = store.usersOf(s.id);
    if (users.vms.length === 0 && users.snapshots.length === 0) {
      store.remove(s.id);
      removeFiles(s.id);
    } else if (!s.name.includes(':stale-')) {
      store.rename(s.id, staleWarmName(s.image, s.id));
    }
  }

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

  return {
    store,
    layers,
    ability,
    async requireAbility() {
      const a = await ability();
      if (a.unsupported) throw new BangerError('unavailable', `snapshots are not available: ${a.unsupported}`);
      return a.version;
    },
    statePath,
    memoryPath,
    layerPath,
    stateBytesOf(id) {
      const dir = paths.snapshotDir(id);
      // The RAM file is sparse (as large as the guest's memory): count what it takes on disk.
      const ram = existsSync(memoryPath(id)) ? statSync(memoryPath(id)).blocks * 512 : 0;
      return (
        ram +
        readdirSync(dir)
          .filter((f) => f.startsWith('state.bin'))
          .reduce((n, f) => n + statSync(`${dir}/${f}`).size, 0)
      );
    },
    removeFiles,
    filesOf(id) {
      const size = (p: string) => (existsSync(p) ? statSync(p).size : null);
      return { stateBytes: size(statePath(id)), memoryBytes: size(memoryPath(id)), layerBytes: size(layerPath(id)) };
    },
    sourceOf(s, identity) {
      return {
        snapshotId: s.id,
        label: s.kind === 'warm' ? s.name : `snapshot ${s.name}`,
        statePath: statePath(s.id),
        ...(existsSync(memoryPath(s.id)) ? { memoryPath: memoryPath(s.id) } : {}),
        layerPath: layerPath(s.id),
        vcpu: s.spec.vcpu,
        memoryMib: s.spec.memoryMib,
        diskSizeBytes: s.spec.diskSizeBytes,
        identity,
        bulkChannel: s.spec.bulkChannel === true,
        ...(s.spec.nicMac ? { nicMac: s.spec.nicMac } : {}),
      };
    },
    lookup,
    describe,
    list: () => Promise.all(store.list().map(describe)),
    show: (name) => describe(lookup(name)),
    delete: (name) =>
      locks.global.with('snapshot-refs', async () => {
        const s = lookup(name);
        refuseIfUsed(s);
        store.remove(s.id);
        removeFiles(s.id);
        log.info({ snapshot: s.name }, 'snapshot deleted');
        return { name: s.name, id: s.id };
      }),
    retireWarm,
    collectStaleWarm,
    beforeArtifactDelete(kind, name) {
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
    },
    async recover() {
      const removed: string[] = [];
      if (existsSync(paths.snapshotsDir)) {
        for (const id of readdirSync(paths.snapshotsDir)) {
          if (store.get(id)) continue;
          const h = readHandles(paths.snapshotFile(id, 'handles'));
          if (h && driver.isRunning(h)) await driver.kill(h, 'SIGKILL').catch(() => undefined);
          removeFiles(id);
          rmSync(paths.vmRuntimeDir(`warm-${id}`), { recursive: true, force: true });
          removed.push(id);
        }
      }
      removed.push(...collectStaleWarm());
      // A crash between a snapshot's disk switch and its seal leaves the layer writable: nothing writes
      // it, but the mode is what keeps a hand or a bug from changing a layer every fork reads.
      const resealed: string[] = [];
      for (const s of store.list()) {
        const layer = layerPath(s.id);
        if (existsSync(layer) && (statSync(layer).mode & 0o222) !== 0) {
          await layers.seal(layer);
          resealed.push(s.name);
        }
      }
      return { removed, resealed };
    },
  };
}
