/**
 * The VM service's written contracts: what it takes (`VmServiceDeps`, the restore hooks
 * snapshots/ implements) and what it offers (`VmService`). The modules that implement it
 * (view, machine, lifecycle, access) share one `VmContext`: the deps, already wired by the daemon.
 */
import type { Deleted } from '../api/results.js';
import type { Accel, NetworkMode } from '../api/enums.js';
import type { VmPorts } from '../api/network.js';
import type { Progress } from '../api/progress.js';
import type { Vm, VmCreateParams, VmExecResult, VmSshInfo, VmStats, Workspace } from '../api/vm.js';
import type { Readable, Writable } from 'node:stream';
import type { z } from 'zod';
import type { ArtifactAccess, ResolvedBoot } from '../artifacts/service.js';
import type { Config } from '../config/config.js';
import type { FileSyncEntry } from '../config/filesync.js';
import type { GuestAccess, GuestSession } from '../guest/access.js';
import type { Locks } from '../host/locks.js';
import type { Logger } from '../host/logger.js';
import type { Interrupted } from './interrupted.js';
import type { HypervisorChoice } from '../hypervisor/choice.js';
import type { Driver } from '../hypervisor/driver.js';
import type { ReconcileReport, VmNetworking } from '../network/vmnet.js';
import type { Handles } from '../store/handles.js';
import type { Paths } from '../store/paths.js';
import type { VmRecord, VmStore } from '../store/vms.js';
import type { Activity } from './autostop.js';
import type { StatsSampler } from './stats.js';
import type { VmEvents } from './events.js';

/** A saved VM (snapshot) to restore instead of booting; snapshots/ builds these. */
export interface RestoreSource {
  snapshotId: string;
  /** For progress lines, e.g. `snapshot web-20250101-120000` or `warm:debian-bookworm`. */
  label: string;
  statePath: string;
  /** The guest RAM as a file (the state then holds device state only), mapped copy-on-write; absent: the state holds it. */
  memoryPath?: string;
  /** The frozen layer a new VM's overlay is created on. */
  layerPath: string;
  vcpu: number;
  memoryMib: number;
  diskSizeBytes: number;
  /** `fresh`: a new VM (new host name, machine-id, MAC, host key); `same`: the VM resumes as itself. */
  identity: 'fresh' | 'same';
  /** The saved VM had the bulk byte channel: the restored one must attach it too (same devices). */
  bulkChannel?: boolean;
  /** The MAC the saved guest's NIC answered to: the restored NIC gets it (SnapshotManager.nicMac). */
  nicMac?: string;
}

export interface WarmRequestInput {
  image: string | undefined;
  cold: boolean;
  vcpu: number | undefined;
  memoryMib: number | undefined;
  diskSizeBytes: number | undefined;
  network: NetworkMode;
  resolved: ResolvedBoot;
}

/** What the VM service asks of snapshots/ (snapshots/restore.ts implements it). */
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
  accel: Accel;
  /** What the host can give VMs (hypervisor/choice.ts): default network, bridge availability. */
  hypervisor: Pick<HypervisorChoice, 'driver' | 'driverReason' | 'bridge' | 'defaultNetwork'>;
  locks: Locks;
  guest: GuestAccess;
  artifacts: ArtifactAccess;
  log: Logger;
  /** How long to wait for SSH after boot. */
  sshTimeoutMs: number;
  /** Restoring snapshots (warm start, fork, resume). */
  restore: RestoreHooks;
  /** Host networking (bridge/tap/NAT, DNS records, ssh_config). */
  network: VmNetworking;
  /** [config] Last use of each VM, for auto_stop_stale_after (vms/autostop.ts). */
  activity: Activity;
  /** [config] `[[file_sync]]` entries copied into the guest at every start (vms/filesync.ts). */
  fileSync: readonly FileSyncEntry[];
  /** [config] stats_poll_interval's sampler (vms/stats.ts), read by `vm stats`. */
  stats: Pick<StatsSampler, 'latest'>;
  /** Where record changes are published (vms/events.ts; the web UI's live list); absent: nowhere. */
  events?: VmEvents;
}

/** The deps as every VM module sees them. */
export type VmContext = VmServiceDeps;

export type VmCreateInput = VmCreateParams & { start: boolean; waitForSsh: boolean };
/** A fork child: a new VM restored from a snapshot. */
export interface VmCreateFromInput {
  name: string;
  image: string;
  kernel: string;
  egress: boolean;
  workspace: Workspace | null;
}
export interface VmSetInput {
  vcpu?: number;
  memoryMib?: number;
  diskSizeBytes?: number;
  nat?: boolean;
}
/** `vm exec`'s I/O: output goes to `write`; the call's signal ends the guest command. */
export interface ExecIo {
  argv: string[];
  cwd?: string;
  stdin?: Readable;
  /** Where each output stream goes, at the client's pace (a writable that stops taking while the client does not read). */
  output(stream: 'stdout' | 'stderr'): Writable;
  signal: AbortSignal;
}

export interface VmService {
  /** The stored record of a VM, or not_found. */
  lookup(name: string): VmRecord;
  /** Stored intent plus live facts, as clients see a VM. */
  view(rec: VmRecord): Vm;
  /** The live handles of a running VM, or a conflict naming its state. */
  requireRunning(rec: VmRecord): Handles;
  /** Every VM, including rows that cannot be read (state `broken`, with the reason). */
  list(): Vm[];
  /** `vm show`: one VM (also an unreadable one). */
  show(name: string): Vm;

  create(p: VmCreateInput, progress: Progress, signal?: AbortSignal): Promise<Vm>;
  /** A new VM restored from a snapshot (vm fork); a VM that fails to come up is removed again. */
  createFrom(p: VmCreateFromInput, src: RestoreSource, progress: Progress, signal?: AbortSignal): Promise<Vm>;
  start(name: string, waitForSsh: boolean, progress: Progress, signal?: AbortSignal): Promise<Vm>;
  stop(name: string, timeoutMs: number, progress: Progress): Promise<Vm>;
  restart(name: string, timeoutMs: number, progress: Progress, signal?: AbortSignal): Promise<Vm>;
  kill(name: string, signal: string): Promise<Vm>;
  delete(name: string, progress: Progress): Promise<Deleted>;
  /** Deletes every VM that is not running, starting or stopping. */
  prune(progress: Progress): Promise<{ deleted: string[] }>;
  set(name: string, p: VmSetInput): Promise<Vm>;
  setWorkspace(id: string, ws: Workspace | null): void;

  /** Opens (or reuses) the pooled guest session of a running VM; holds vmLock only to copy fields. */
  session(name: string, signal?: AbortSignal): Promise<{ rec: VmRecord; session: GuestSession; handles: Handles }>;
  /** `vm exec`: runs argv in the guest (in the workspace by default), streaming its output. */
  exec(name: string, io: ExecIo): Promise<z.infer<typeof VmExecResult>>;
  /** `vm ssh`: where and how to connect (a use, for auto-stop). */
  sshInfo(name: string): z.infer<typeof VmSshInfo>;
  /** `vm stats`: CPU, memory and disk use of every VM. */
  stats(): Promise<Array<z.infer<typeof VmStats>>>;
  /** `vm ports`: the guest's listening TCP ports, where each is reachable from the host, and which answer HTTP. */
  ports(name: string, signal?: AbortSignal): Promise<VmPorts>;
  /** [config: auto_stop] Records a use (`vm ssh`), or an operation in flight until the returned function is called. */
  touch(id: string): void;
  hold(id: string): () => void;
  /** [config: auto_stop] Stops the VM gracefully when `stillIdle` (asked under its lock) holds. */
  stopIfIdle(name: string, stillIdle: (rec: VmRecord, session: GuestSession | null) => Promise<boolean>, timeoutMs: number): Promise<boolean>;

  /** Republishes DNS records and ssh_config. */
  publish(): Promise<void>;
  /** At daemon start: adopt VMs whose process is alive, mark the rest stopped (or broken), drop stale handles. */
  reconcile(): { adopted: string[]; stopped: string[]; broken: string[] };
  /** At daemon start, after `reconcile`: the host network state of the VMs that still run. */
  reconcileNetwork(): Promise<ReconcileReport>;
  /** At daemon start, after `reconcile`: deletes restores a crash cut short, puts right VMs a crash left mid-save (vms/interrupted.ts). */
  finishInterrupted(): Promise<Interrupted>;
}
