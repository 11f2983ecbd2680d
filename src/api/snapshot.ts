/**
 * The snapshot API: a saved VM (memory + device state and a frozen, read-only disk layer), the
 * `vm.snapshot` / `vm.fork` methods that make and use them, and `snapshot.*`.
 *
 * Two kinds: `user` snapshots are made by `vm snapshot` (or by forking a running VM); `warm`
 * snapshots are banger's cache of a freshly booted default image (`warm:<image>`), used by
 * `vm create`/`vm run` to restore instead of booting.
 */
import { z } from 'zod';
import { Accel, NetworkMode } from './enums.js';
import { MAC_ADDRESS, Name } from './names.js';
import { Deleted } from './results.js';
import { Vm, VmRef, Workspace } from './vm.js';

export const SnapshotKind = z.enum(['user', 'warm']);
export type SnapshotKind = z.infer<typeof SnapshotKind>;

/** Everything a restore must reproduce, fixed when the snapshot was taken. */
export const SnapshotSpec = z
  .object({
    vcpu: z.number().int(),
    memoryMib: z.number().int(),
    diskSizeBytes: z.number().int(),
    accel: Accel,
    hypervisor: z.string(),
    hypervisorVersion: z.string(),
    network: NetworkMode,
    /** The source VM's workspace record: forks have the same files, so they inherit it. */
    workspace: Workspace.nullable(),
    /** Warm snapshots: what they were built from (a mismatch rebuilds them). */
    warmKey: z.string().optional(),
    /** The saved VM had the bulk byte channel (a device of its saved state): restores attach it too. */
    bulkChannel: z.boolean().optional(),
    /** The MAC the saved guest's NIC answered to (it may differ from the hypervisor's): restores give it to their NIC. */
    nicMac: z.string().regex(MAC_ADDRESS).optional(),
    /** The guest RAM was saved as its own file (memory.bin) and the state holds devices only. Absent: not recorded (older snapshots). */
    memoryFile: z.boolean().optional(),
  })
  .strict();
export type SnapshotSpec = z.infer<typeof SnapshotSpec>;

export const Snapshot = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: SnapshotKind,
    /** The VM it was taken from (its name then), null for warm snapshots. */
    sourceVm: z.string().nullable(),
    /** The snapshot whose layer this one's frozen layer sits on, by name. */
    parent: z.string().nullable(),
    image: z.string(),
    kernel: z.string(),
    vcpu: z.number().int(),
    memoryMib: z.number().int(),
    diskSizeBytes: z.number().int(),
    accel: z.string(),
    hypervisor: z.string(),
    /** Size of the saved memory + device state. */
    stateBytes: z.number().int(),
    /** Host disk used by the frozen layer (null if it cannot be read). */
    layerBytes: z.number().int().nullable(),
    workspace: Workspace.nullable(),
    /** VMs whose disks sit on this snapshot's layer, and snapshots made on top of it. */
    usedBy: z.object({ vms: z.array(z.string()), snapshots: z.array(z.string()) }).strict(),
    createdAt: z.string(),
  })
  .strict();
export type Snapshot = z.infer<typeof Snapshot>;

/** Snapshot names as users give them; warm snapshots are named `warm:<image>` by banger. */
export const SnapshotRef = z.object({ name: z.string().min(1).max(200) }).strict();

export const VmSnapshotParams = VmRef.extend({
  /** Snapshot name. @default `<vm>-<yyyymmdd-hhmmss>` */
  snapshot: Name.optional(),
  /** Leave the VM stopped after saving (its next `vm start` resumes from the snapshot). */
  stop: z.boolean().default(false),
}).strict();

/** Most children one `vm fork` makes (each is a full VM in memory). */
export const MAX_FORK_COUNT = 16;

export const VmForkParams = z
  .object({
    /** A snapshot name, or a running VM's name (snapshotted first). A snapshot wins a name clash. */
    source: z.string().min(1).max(200),
    name: Name,
    /** How many VMs; with more than one they are named NAME-1 ... NAME-N. */
    count: z.number().int().min(1).max(MAX_FORK_COUNT).default(1),
    egress: z.boolean().default(true),
  })
  .strict();

export const VmForkResult = z.object({ snapshot: z.string(), vms: z.array(Vm) }).strict();

export const SnapshotListResult = z.object({ snapshots: z.array(Snapshot) }).strict();
export const SnapshotDeleteResult = Deleted;

/** Method name -> schemas, spread into api/methods.ts. */
export const snapshotMethods = {
  'vm.snapshot': { params: VmSnapshotParams, result: Snapshot },
  'vm.fork': { params: VmForkParams, result: VmForkResult },
  'snapshot.list': { params: z.object({}).strict(), result: SnapshotListResult },
  'snapshot.show': { params: SnapshotRef, result: Snapshot },
  'snapshot.delete': { params: SnapshotRef, result: SnapshotDeleteResult },
} as const;
