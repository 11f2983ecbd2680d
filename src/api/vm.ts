import { z } from 'zod';
import { NetworkMode, WorkspaceMode } from './enums.js';
import { MemoryMib, Name, Size } from './names.js';
import { Empty } from './daemon.js';
import { Deleted } from './results.js';

export { NetworkMode } from './enums.js';

export const VmState = z.enum(['stopped', 'starting', 'running', 'stopping', 'broken']);
export type VmState = z.infer<typeof VmState>;

/** Stored network intent of a VM. */
export const VmNetwork = z
  .object({
    mode: NetworkMode,
    egress: z.boolean(),
    nat: z.boolean(),
    /** Guest IPv4 in bridge mode. */
    ip: z.string().optional(),
    mac: z.string().optional(),
    /** User mode: guest ports forwarded to 127.0.0.1 (`banger vm forward`), re-added at every start. */
    forwards: z.array(z.object({ guestPort: z.number().int(), hostPort: z.number().int().nullable() }).strict()).optional(),
    /** User mode: the guest may reach the host's 127.0.0.1 through its gateway (`--host-access`); absent: no. */
    hostAccess: z.boolean().optional(),
  })
  .strict();
export type VmNetwork = z.infer<typeof VmNetwork>;

/** What `workspace.prepare` recorded on the VM. */
export const Workspace = z
  .object({
    guestPath: z.string(),
    hostSource: z.string(),
    headCommit: z.string(),
    branch: z.string().nullable(),
    mode: WorkspaceMode,
    preparedAt: z.string(),
  })
  .strict();
export type Workspace = z.infer<typeof Workspace>;

/** A VM as every client sees it: stored intent plus live facts. */
export const Vm = z
  .object({
    id: z.string(),
    name: z.string(),
    image: z.string(),
    kernel: z.string(),
    vcpu: z.number().int(),
    memoryMib: z.number().int(),
    diskSizeBytes: z.number().int(),
    network: VmNetwork,
    state: VmState,
    /** Why the VM is broken, when it is. */
    reasons: z.array(z.string()),
    pid: z.number().int().nullable(),
    accel: z.string().nullable(),
    ssh: z.object({ host: z.string(), port: z.number().int() }).strict().nullable(),
    workspace: Workspace.nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    /** Last start, exec, ssh or workspace operation (config auto_stop_stale_after counts from it). */
    lastActiveAt: z.string().nullable().optional(),
    /** When the daemon will stop this VM for being unused; null: auto-stop is off or it is not running. */
    autoStopAt: z.string().nullable().optional(),
  })
  .strict();
export type Vm = z.infer<typeof Vm>;

export const VmRef = z.object({ name: z.string().min(1) }).strict();

export const VmCreateParams = z
  .object({
    name: Name.optional(),
    image: Name.optional(),
    vcpu: z.number().int().min(1).max(64).optional(),
    memoryMib: MemoryMib.optional(),
    diskSize: Size.optional(),
    start: z.boolean().default(true),
    /** Absent: the host's default (user mode with QEMU; bridge + NAT where only Firecracker runs). */
    network: NetworkMode.optional(),
    egress: z.boolean().default(true),
    /** Absent: off, or on with the default bridge network. */
    nat: z.boolean().optional(),
    /** User mode: let the guest reach the host's 127.0.0.1 (blocked by default where passt is installed). */
    hostAccess: z.boolean().default(false),
    /** Wait until SSH answers before returning (when starting). */
    waitForSsh: z.boolean().default(true),
    /** Boot from scratch even when a warm snapshot of the image could be restored. */
    cold: z.boolean().default(false),
  })
  .strict();
export type VmCreateParams = z.input<typeof VmCreateParams>;

export const VmStartParams = VmRef.extend({ waitForSsh: z.boolean().default(true) }).strict();
export const VmStopParams = VmRef.extend({ timeoutMs: z.number().int().positive().default(30_000) }).strict();
export const VmKillParams = VmRef.extend({ signal: z.string().regex(/^(SIG)?[A-Z0-9]+$/).default('SIGKILL') }).strict();
export const VmDeleteParams = VmRef.extend({ force: z.boolean().default(true) }).strict();
export const VmSetParams = VmRef.extend({
  vcpu: z.number().int().min(1).max(64).optional(),
  memoryMib: MemoryMib.optional(),
  diskSize: Size.optional(),
  nat: z.boolean().optional(),
}).strict();

export const VmPruneResult = z.object({ deleted: z.array(z.string()) }).strict();

export const VmExecParams = VmRef.extend({
  argv: z.array(z.string()).min(1),
  /** Run in this guest directory; default: the recorded workspace, else the home directory. */
  cwd: z.string().optional(),
  /** Whether the client streams stdin frames. */
  stdin: z.boolean().default(false),
  /**
   * Without `cwd`, in the VM's recorded workspace: first compare the host repo's HEAD with the one
   * prepare copied, and when it moved send the warning as a `workspace-drift` progress event before any
   * output (the CLI's `vm exec`: no `vm.show` round trip before every command).
   */
  reportDrift: z.boolean().default(false),
}).strict();
export const VmExecResult = z.object({ exitCode: z.number().int(), signal: z.string().nullable() }).strict();

export const VmLogsParams = VmRef.extend({ follow: z.boolean().default(false), tailBytes: z.number().int().optional() }).strict();
export const VmLogsResult = z.object({ path: z.string() }).strict();

export const VmSshInfo = z
  .object({
    name: z.string(),
    host: z.string(),
    port: z.number().int(),
    user: z.string(),
    keyPath: z.string(),
    knownHostsPath: z.string(),
    hostKeyAlias: z.string(),
    cwd: z.string().nullable(),
  })
  .strict();

export const VmStats = z
  .object({
    name: z.string(),
    state: VmState,
    cpuPercent: z.number().nullable(),
    rssBytes: z.number().nullable(),
    diskUsedBytes: z.number().nullable(),
    diskSizeBytes: z.number(),
  })
  .strict();
export const VmStatsResult = z.object({ stats: z.array(VmStats) }).strict();
export const VmListResult = z.object({ vms: z.array(Vm) }).strict();

/** The VM methods (api/methods.ts spreads them into the table). */
export const vmMethods = {
  'vm.create': { params: VmCreateParams, result: Vm },
  'vm.start': { params: VmStartParams, result: Vm },
  'vm.stop': { params: VmStopParams, result: Vm },
  'vm.restart': { params: VmStopParams, result: Vm },
  'vm.kill': { params: VmKillParams, result: Vm },
  'vm.delete': { params: VmDeleteParams, result: Deleted },
  'vm.prune': { params: Empty, result: VmPruneResult },
  'vm.set': { params: VmSetParams, result: Vm },
  'vm.list': { params: Empty, result: VmListResult },
  'vm.show': { params: VmRef, result: Vm },
  'vm.exec': { params: VmExecParams, result: VmExecResult },
  'vm.logs': { params: VmLogsParams, result: VmLogsResult },
  'vm.sshInfo': { params: VmRef, result: VmSshInfo },
  'vm.stats': { params: Empty, result: VmStatsResult },
} as const;
