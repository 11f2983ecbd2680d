/**
 * `vm snapshot`: pause, save memory and device state, then freeze the VM's disk into the snapshot's
 * read-only layer and give the VM a new overlay on top (QMP blockdev-snapshot-sync), and resume (or,
 * with --stop, kill it: its next start resumes from the snapshot). The switch must come after the
 * save: QEMU 7.2 refuses to resume otherwise (qcow2 write lock).
 *
 * Locks: the VM's workspace lock (never freeze a half-streamed workspace import), then its vmLock,
 * for the whole save. Name reservations use the global lock for milliseconds.
 */
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { BangerError, notFound } from '../api/errors.js';
import type { Progress } from '../api/progress.js';
import type { Snapshot, SnapshotSpec } from '../api/snapshot.js';
import type { GuestAccess } from '../guest/access.js';
import { aliasFor } from '../guest/knownhosts.js';
import type { Locks } from '../host/locks.js';
import type { Logger } from '../host/logger.js';
import type { Driver } from '../hypervisor/driver.js';
import { newId } from '../store/ids.js';
import type { Paths } from '../store/paths.js';
import type { SnapshotRecord } from '../store/snapshots.js';
import type { VmStore } from '../store/vms.js';
import type { VmService } from '../vms/contracts.js';
import { autoSnapshotName, uniqueName } from './names.js';
import type { SnapshotRegistry } from './registry.js';

export interface TakeDeps {
  registry: SnapshotRegistry;
  paths: Paths;
  vmStore: Pick<VmStore, 'get'>;
  vms: Pick<VmService, 'lookup' | 'requireRunning' | 'kill'>;
  driver: Driver;
  driverName: string;
  locks: Locks;
  guest: GuestAccess;
  log: Logger;
}

export type TakeSnapshot = (p: { name: string; snapshot?: string; stop: boolean }, progress: Progress) => Promise<Snapshot>;

export function createTake(deps: TakeDeps): TakeSnapshot {
  const { registry: reg, paths, vmStore, vms, driver, driverName, locks, guest, log } = deps;
  const store = reg.store;
  /** Snapshot names being created right now (reserved before their row exists). */
  const pendingNames = new Set<string>();

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

  return async function snapshotVm(p, progress) {
    const version = await reg.requireAbility();
    const sm = driver.snapshots!;
    const rec = vms.lookup(p.name);
    const reservation = await reserveName(p.snapshot ?? autoSnapshotName(rec.name, new Date()), p.snapshot !== undefined);
    let stopAfter = false;
    let snap: SnapshotRecord;
    try {
      snap = await locks.workspace.with(rec.id, () =>
        locks.vm.with(rec.id, async () => {
          const cur = vmStore.get(rec.id);
          if (!cur) throw notFound('VM', p.name, 'run `banger vm list`');
          const h = vms.requireRunning(cur);
          const id = newId();
          const dir = paths.snapshotDir(id);
          mkdirSync(dir, { recursive: true, mode: 0o700 });
          const vmDisk = paths.vmFile(cur.id, 'disk');
          const layer = reg.layerPath(id);
          const parent = store.refOf(cur.id);
          const session = () => guest.open({ vmId: cur.id, alias: aliasFor(cur.name), host: h.ssh.host, port: h.ssh.port }, { timeoutMs: 5000 });
          let row: SnapshotRecord | null = null;
          try {
            const sizeBytes = await reg.layers.virtualSize(vmDisk);
            // Best effort: flushed guest buffers keep the frozen layer close to what the guest sees.
            await session()
              .then((s) => s.run(['sync'], { timeoutMs: 15_000 }))
              .catch((err: Error) => log.info({ vm: cur.name, err: err.message }, 'sync before snapshot skipped'));
            progress('snapshot', `saving ${cur.name}'s memory and device state`);
            await sm.pause(h);
            try {
              // Best effort: without it restores announce the hypervisor's default MAC (slower first connection).
              const nicMac = await (sm.nicMac?.(h) ?? Promise.resolve(null)).catch((err: Error) => (log.warn({ vm: cur.name, err: err.message }, 'NIC address not read'), null));
              // The RAM goes to its own file where the driver can: forks then share its pages.
              const memoryFile = await sm.saveState(h, reg.statePath(id), reg.memoryPath(id));
              // The row and the VM's reference are written before any file moves: after a crash a
              // directory without a row never holds a disk layer that something depends on.
              const spec: SnapshotSpec = {
                vcpu: cur.vcpu,
                memoryMib: cur.memoryMib,
                diskSizeBytes: sizeBytes,
                accel: h.accel,
                hypervisor: driverName,
                hypervisorVersion: version,
                network: cur.network.mode,
                workspace: cur.workspace,
                bulkChannel: typeof h.bulkSocket === 'string',
                ...(nicMac ? { nicMac } : {}),
                memoryFile,
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
                  stateBytes: reg.stateBytesOf(id),
                });
                // With --stop the VM's next start resumes from this snapshot.
                store.setRef(cur.id, id, p.stop);
                return r;
              });
              progress('snapshot', 'freezing the disk into a read-only layer');
              renameSync(vmDisk, layer);
              try {
                await reg.layers.overlayOn(layer, vmDisk, sizeBytes, { unsafe: true });
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
            await reg.layers.seal(layer);
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
            if (!store.get(id)) reg.removeFiles(id);
            throw err;
          }
        }),
      );
    } finally {
      reservation.release();
    }
    if (stopAfter) {
      progress('snapshot', `stopping ${rec.name}`);
      await vms.kill(rec.name, 'SIGKILL');
    }
    log.info({ vm: rec.name, snapshot: snap.name, stateBytes: snap.stateBytes, stop: p.stop }, 'snapshot taken');
    return reg.describe(snap);
  };
}
