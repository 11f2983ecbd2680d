/** Can this daemon restore a snapshot? Pure: the snapshot's fixed facts against the host's. */
import type { Accel } from '../api/enums.js';
import type { SnapshotSpec } from '../api/snapshot.js';

export interface RestoreHost {
  accel: Accel;
  hypervisor: string;
}

/** Why the snapshot cannot be restored here, or null. */
export function restoreBlocker(spec: SnapshotSpec, host: RestoreHost): string | null {
  if (spec.hypervisor !== host.hypervisor) {
    return `it was saved by the ${spec.hypervisor} hypervisor and this daemon runs ${host.hypervisor}`;
  }
  // CPU state saved under one accelerator does not load under the other.
  if (spec.accel !== host.accel) return `it was saved under ${spec.accel} and this daemon runs ${host.accel}`;
  if (spec.network !== 'user') return 'only snapshots of user-mode networking VMs can be restored';
  return null;
}

/** Driver facts that decide whether snapshots work at all. */
export interface SnapshotAbility {
  name: string;
  features: { snapshots: boolean; diskFormats: ReadonlyArray<'qcow2' | 'raw'> };
  canSave: boolean;
  canSwitchDisk: boolean;
}

/** Why snapshots are unavailable with this driver, or null. */
export function snapshotUnsupported(d: SnapshotAbility): string | null {
  if (!d.features.snapshots || !d.canSave) return `the ${d.name} driver cannot save a VM's state`;
  if (!d.canSwitchDisk || !d.features.diskFormats.includes('qcow2')) {
    return `the ${d.name} driver cannot freeze a running VM's disk into a layer (it needs qcow2 overlays; set hypervisor = "qemu")`;
  }
  return null;
}

/** What is on disk of a snapshot's saved state: sizes in bytes, null when the file is missing. */
export interface SnapshotFiles {
  stateBytes: number | null;
  memoryBytes: number | null;
  /** The frozen disk layer (a crash between writing the row and moving the disk leaves none). */
  layerBytes: number | null;
}

/** Why the snapshot's saved files cannot be restored (missing or cut short: disk damage, a hand-made copy), or null. Pure. */
export function snapshotDamage(spec: SnapshotSpec, files: SnapshotFiles): string | null {
  if (files.layerBytes === null) return 'its disk layer (disk.qcow2) is missing';
  if (!files.stateBytes) return `its saved state (state.bin) is ${files.stateBytes === null ? 'missing' : 'empty'}`;
  if (files.memoryBytes === null) return spec.memoryFile ? 'its memory file (memory.bin) is missing' : null;
  const want = spec.memoryMib * 1024 * 1024;
  if (files.memoryBytes !== want) return `its memory file (memory.bin) is ${files.memoryBytes} bytes, not the guest's ${spec.memoryMib} MiB`;
  return null;
}
