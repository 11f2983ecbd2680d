/**
 * The banger TypeScript SDK: a thin client of bangerd's API, shaped like E2B's (static factories,
 * a handle per VM, errors as classes). It holds no VM logic; every call is one API method.
 *
 *   const vm = await Vm.create({ name: 'ci' });
 *   const r = await vm.commands.run(['make', 'test']);
 *   await vm.delete();
 */
import { Readable } from 'node:stream';
import { call } from '../api/client.js';
import { BangerError } from '../api/errors.js';
import { methods, type MethodName, type ParamsOf, type ResultOf } from '../api/methods.js';
import type { ProgressEvent } from '../api/progress.js';
import { daemonSocketPath } from '../api/socket.js';
import type { Vm as VmInfo, VmCreateParams } from '../api/vm.js';

export { BangerError } from '../api/errors.js';
export type { VmInfo };

export class NotFoundError extends BangerError {}
export class ConflictError extends BangerError {}
/** A command exited non-zero; the full result is attached. */
export class CommandExitError extends Error {
  constructor(readonly result: CommandResult) {
    super(`command exited with ${result.exitCode}: ${result.stderr.trim().split('\n').slice(-1)[0] ?? ''}`);
    this.name = 'CommandExitError';
  }
}

const ERROR_CLASSES: Partial<Record<BangerError['code'], typeof BangerError>> = { not_found: NotFoundError, conflict: ConflictError };

export interface ConnectionOpts {
  /** The daemon socket. @default `$XDG_RUNTIME_DIR/banger/bangerd.sock` (api/socket.ts daemonSocketPath) */
  socketPath?: string;
  /** Aborts the call. */
  signal?: AbortSignal;
  onProgress?: (e: ProgressEvent) => void;
}

async function api<M extends MethodName>(method: M, params: ParamsOf<M>, opts: ConnectionOpts & { stdin?: Readable; onStream?: (s: 'stdout' | 'stderr', d: Buffer) => void } = {}): Promise<ResultOf<M>> {
  try {
    return await call(opts.socketPath ?? daemonSocketPath(), method, params, opts, methods);
  } catch (err) {
    if (err instanceof BangerError && ERROR_CLASSES[err.code]) {
      const Cls = ERROR_CLASSES[err.code]!;
      throw new Cls(err.code, err.message, { details: err.details, cause: err });
    }
    throw err;
  }
}

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface CommandRunOpts extends ConnectionOpts {
  /** Guest directory. @default the VM's workspace, else home */
  cwd?: string;
  /** Bytes fed to the command's stdin. */
  stdin?: string | Buffer;
  onStdout?: (text: string) => void;
  onStderr?: (text: string) => void;
  /** Throw CommandExitError on a non-zero exit. @default false */
  check?: boolean;
}

/** Commands in one VM, over the daemon's pooled SSH connection. */
export class Commands {
  /** @internal */
  constructor(private readonly vmName: string, private readonly conn: ConnectionOpts) {}

  async run(argv: string[], opts: CommandRunOpts = {}): Promise<CommandResult> {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const r = await api(
      'vm.exec',
      { name: this.vmName, argv, cwd: opts.cwd, stdin: opts.stdin !== undefined },
      {
        ...this.conn,
        ...opts,
        stdin: opts.stdin !== undefined ? Readable.from([Buffer.from(opts.stdin)]) : undefined,
        onStream: (s, d) => {
          (s === 'stdout' ? out : err).push(d);
          (s === 'stdout' ? opts.onStdout : opts.onStderr)?.(d.toString('utf8'));
        },
      },
    );
    const result = { exitCode: r.exitCode, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
    if (opts.check && result.exitCode !== 0) throw new CommandExitError(result);
    return result;
  }
}

/** A VM held by the SDK. Build with Vm.create / Vm.connect / Vm.list. */
export class Vm {
  readonly commands: Commands;

  /** @internal */
  private constructor(public info: VmInfo, private readonly conn: ConnectionOpts) {
    this.commands = new Commands(info.name, conn);
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
}
