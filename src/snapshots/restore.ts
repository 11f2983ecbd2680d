/**
 * The restore half of snapshots: the hooks the VM service calls (vms/contracts.ts RestoreHooks).
 * A new VM's overlay on a snapshot's layer, the identity refresh right after every restore, the
 * one-time resume of a VM saved with `vm snapshot --stop`, and the warm snapshot for a create.
 * It needs no VM service: the VM service is built on it.
 */
import type { Accel } from '../api/enums.js';
import { existsSync } from 'node:fs';
import { notFound } from '../api/errors.js';
import type { GuestAccess } from '../guest/access.js';
import type { Locks } from '../host/locks.js';
import type { Logger } from '../host/logger.js';
import type { RestoreHooks } from '../vms/contracts.js';
import { restoreBlocker } from './compat.js';
import { applyIdentity } from './identity-step.js';
import type { SnapshotRegistry } from './registry.js';
import type { WarmFor } from './warmcache.js';

export interface RestoreDeps {
  registry: SnapshotRegistry;
  warmFor: WarmFor;
  accel: Accel;
  driverName: string;
  locks: Locks;
  guest: GuestAccess;
  log: Logger;
}

export function createRestoreHooks(deps: RestoreDeps): RestoreHooks {
  const { registry: reg, locks, guest, log } = deps;
  const store = reg.store;
  return {
    warmFor: deps.warmFor,

    async attach(vmId, src, diskPath, sizeBytes) {
      await locks.global.with('snapshot-refs', async () => {
        if (!store.get(src.snapshotId)) throw notFound('snapshot', src.label, 'run `banger snapshot list`');
        // unsafe: the layer may be open (read-only) in the VM it came from; the size is given.
        await reg.layers.overlayOn(src.layerPath, diskPath, sizeBytes, { unsafe: true });
        store.setRef(vmId, src.snapshotId);
      });
    },

    async refresh(session, vm, src, progress) {
      await applyIdentity(session, vm, src.identity === 'fresh', { trustHostKey: (al, l) => guest.trustHostKey(al, l), log }, progress);
    },

    resumeFor(vm, progress) {
      const ref = store.refOf(vm.id);
      if (!ref?.resume) return null;
      // Resume once: whatever happens next, a later start boots from the disk.
      store.setResume(vm.id, false);
      const s = store.get(ref.snapshotId);
      if (!s) return null;
      const blocker =
        restoreBlocker(s.spec, { accel: deps.accel, hypervisor: deps.driverName }) ??
        (s.spec.vcpu !== vm.vcpu || s.spec.memoryMib !== vm.memoryMib || s.spec.diskSizeBytes !== vm.diskSizeBytes ? 'the VM was resized since' : null);
      if (blocker || !existsSync(reg.statePath(s.id))) {
        progress('boot', `booting instead of resuming from snapshot ${s.name}: ${blocker ?? 'its saved state is missing'}`);
        return null;
      }
      return { ...reg.sourceOf(s, 'same'), label: `snapshot ${s.name} (resuming)` };
    },
  };
}
