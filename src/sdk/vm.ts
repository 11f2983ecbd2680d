/** A VM held by the SDK: one handle per VM, each method one API call (or a few, for files). */
import type { Snapshot } from '../api/snapshot.js';
import type { Vm as VmInfo, VmCreateParams } from '../api/vm.js';
import type { WorkspaceExportParams, WorkspaceExportResult, WorkspacePrepareParams, WorkspacePrepareResult } from '../api/workspace.js';
import { api, type ConnectionOpts } from './api.js';
import { Commands } from './commands.js';
import { Files } from './files.js';

/** The repo in the VM: copy a host repo in, bring the guest's changes back as a patch. */
export class Workspace {
  /** @internal */
  constructor(private readonly vmName: string, private readonly conn: ConnectionOpts) {}

  prepare(params: Omit<WorkspacePrepareParams, 'name'>): Promise<WorkspacePrepareResult> {
    return api('workspace.prepare', { ...params, name: this.vmName }, this.conn);
  }

  /** The patch (empty with nameOnly or apply) and what it covers. */
  async export(params: Omit<WorkspaceExportParams, 'name'> = {}): Promise<WorkspaceExportResult & { patch: string }> {
    const out: Buffer[] = [];
    const r = await api('workspace.export', { ...params, name: this.vmName }, { ...this.conn, onStream: (s, d) => s === 'stdout' && out.push(d) });
    return { ...r, patch: Buffer.concat(out).toString('utf8') };
  }
}

export class Vm {
  readonly commands: Commands;
  readonly files: Files;
  readonly workspace: Workspace;

  /** @internal */
  private constructor(public info: VmInfo, private readonly conn: ConnectionOpts) {
    this.commands = new Commands(info.name, conn);
    this.files = new Files(info.name, conn);
    this.workspace = new Workspace(info.name, conn);
  }

  get name(): string {
    return this.info.name;
  }

  static async create(params: VmCreateParams = {}, conn: ConnectionOpts = {}): Promise<Vm> {
    return new Vm(await api('vm.create', params, conn), conn);
  }

  static async connect(name: string, conn: ConnectionOpts = {}): Promise<Vm> {
    return new Vm(await api('vm.show', { name }, conn), conn);
  }

  static async list(conn: ConnectionOpts = {}): Promise<VmInfo[]> {
    return (await api('vm.list', {}, conn)).vms;
  }

  async refresh(): Promise<VmInfo> {
    this.info = await api('vm.show', { name: this.name }, this.conn);
    return this.info;
  }

  async start(): Promise<VmInfo> {
    this.info = await api('vm.start', { name: this.name }, this.conn);
    return this.info;
  }

  /** Graceful stop. @param timeoutMs before the hypervisor is killed, @default 30000 */
  async stop(timeoutMs = 30_000): Promise<VmInfo> {
    this.info = await api('vm.stop', { name: this.name, timeoutMs }, this.conn);
    return this.info;
  }

  async delete(): Promise<void> {
    await api('vm.delete', { name: this.name }, this.conn);
  }

  /** Saves memory and disks under a snapshot name (default `<vm>-<time>`). */
  snapshot(opts: { snapshot?: string; stop?: boolean } = {}): Promise<Snapshot> {
    return api('vm.snapshot', { name: this.name, ...opts }, this.conn);
  }

  /** New VMs from this one's current state (snapshotted first), named NAME or NAME-1..N. */
  fork(name: string, opts: { count?: number; egress?: boolean } = {}): Promise<Vm[]> {
    return Vm.forkFrom(this.name, name, opts, this.conn);
  }

  /** New VMs from a snapshot, or from a running VM by name (snapshotted first). */
  static async forkFrom(source: string, name: string, opts: { count?: number; egress?: boolean } = {}, conn: ConnectionOpts = {}): Promise<Vm[]> {
    const r = await api('vm.fork', { source, name, ...opts }, conn);
    return r.vms.map((v) => new Vm(v, conn));
  }
}
