/**
 * Commands in one VM (`vm.exec` over the daemon's pooled SSH connection): run to completion, or in
 * the background with a handle to wait on or kill. Killing aborts the call; the daemon then signals
 * the command's whole process group in the guest.
 */
import { Readable } from 'node:stream';
import { BangerError } from '../api/errors.js';
import { api, type ConnectionOpts } from './api.js';

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** A command exited non-zero; the full result is attached. */
export class CommandExitError extends Error {
  constructor(readonly result: CommandResult) {
    super(`command exited with ${result.exitCode}: ${result.stderr.trim().split('\n').slice(-1)[0] ?? ''}`);
    this.name = 'CommandExitError';
  }
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
  /** Kill the command and reject after this long. */
  timeoutMs?: number;
}

/** A command started with `background: true`. */
export interface CommandHandle {
  /** Settles with the result once the command exits (or rejects if it was killed before reporting). */
  wait(): Promise<CommandResult>;
  /** Signals the command (its whole process group in the guest) and stops waiting for it. */
  kill(): void;
}

export class Commands {
  /** @internal */
  constructor(private readonly vmName: string, private readonly conn: ConnectionOpts) {}

  run(argv: string[], opts: CommandRunOpts & { background: true }): CommandHandle;
  run(argv: string[], opts?: CommandRunOpts & { background?: false }): Promise<CommandResult>;
  run(argv: string[], opts: CommandRunOpts & { background?: boolean } = {}): Promise<CommandResult> | CommandHandle {
    const stop = new AbortController();
    const timeout = opts.timeoutMs ? AbortSignal.timeout(opts.timeoutMs) : undefined;
    const signals = [stop.signal, opts.signal ?? this.conn.signal, timeout].filter((s): s is AbortSignal => !!s);
    const done = this.exec(argv, opts, AbortSignal.any(signals)).catch((err: unknown) => {
      if (timeout?.aborted) throw new BangerError('unavailable', `${argv[0]} did not finish in ${opts.timeoutMs} ms and was killed; give it a longer timeout`, { cause: err });
      throw err;
    });
    if (!opts.background) return done;
    done.catch(() => {}); // a handle nobody waits on must not raise an unhandled rejection
    return { wait: () => done, kill: () => stop.abort() };
  }

  private async exec(argv: string[], opts: CommandRunOpts, signal: AbortSignal): Promise<CommandResult> {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const r = await api(
      'vm.exec',
      { name: this.vmName, argv, cwd: opts.cwd, stdin: opts.stdin !== undefined },
      {
        ...this.conn,
        ...opts,
        signal,
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
