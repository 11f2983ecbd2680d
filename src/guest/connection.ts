/**
 * What callers program against: a connection to a guest and the commands run over it (types only).
 *
 * ssh.ts opens one (connect), sshconn.ts implements it. Exit codes, signals and output come from the
 * guest and are passed on verbatim, never parsed.
 */
import type { Readable, Writable } from 'node:stream';

export interface SshTarget {
  host: string;
  port: number;
  /** known_hosts alias, `NAME.vm` (see knownhosts.ts `aliasFor`). */
  alias: string;
}

export interface PtyOptions {
  rows: number;
  cols: number;
  /** @default 'xterm-256color' */
  term?: string;
}

export interface ExecOptions {
  /**
   * What the command reads. A Buffer or string is written then closed; a Readable is piped;
   * `'pipe'` leaves `handle.stdin` open for the caller to write and end.
   * @default closed at once (the command reads EOF)
   */
  stdin?: Readable | Buffer | string | 'pipe';
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Allocate a pseudo-terminal (stdout and stderr then arrive merged on stdout). */
  pty?: PtyOptions;
  /** Environment for the command, exported by the guest shell before it runs. */
  env?: Readonly<Record<string, string>>;
}

export interface ExitStatus {
  /** The guest's exit status, verbatim; null when the command died of a signal or none was sent. */
  code: number | null;
  /** `SIGTERM` style, when the command died of a signal. */
  signal?: string;
}

/**
 * A running guest command. `exit` settles once the channel closes (all output delivered); it
 * rejects with BangerError('unavailable') when the connection drops before the command reports.
 * Output streams must be read in the same tick as `exec()` returns (pipe or listen), or given as
 * callbacks; otherwise they are drained and discarded so an unread stream never stalls the command.
 */
export interface ExecHandle {
  readonly exit: Promise<ExitStatus>;
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /**
   * Signals the command's shell and every process it started (found in the guest by the exec's
   * `BANGER_EXEC_ID`); a login shell is hung up instead. If the command has not exited 2 s later,
   * `exit` settles anyway with the signal and the channel is abandoned (the process may live on).
   */
  kill(signal?: string): void;
  /** Tells the pty its new size (no-op without a pty). */
  resize(rows: number, cols: number): void;
}

export interface RunOptions extends Omit<ExecOptions, 'pty'> {
  /** Kill the command (SIGKILL) and reject after this long. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Reject with BangerError('internal') when the exit code is not 0. @default false */
  check?: boolean;
  /** Per stream; guest output is untrusted, so collection is bounded. @default 64 MiB */
  maxOutputBytes?: number;
}

export interface RunResult extends ExitStatus {
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
  stderrBytes: Buffer;
}

export interface GuestConnection {
  readonly target: SshTarget;
  readonly closed: boolean;
  /** Runs a shell command line; build it with quote.ts (`shellCommand`, `inDirectory`). */
  exec(command: string, opts?: ExecOptions): ExecHandle;
  /** The user's login shell (interactive `vm ssh`); pass a pty and `stdin: 'pipe'`. */
  shell(opts?: Omit<ExecOptions, 'env'>): ExecHandle;
  /** Quotes argv, runs it, collects output. */
  run(argv: readonly string[], opts?: RunOptions): Promise<RunResult>;
  close(): void;
  /** Called once when the connection ends (with the error that ended it, if any). Returns an unsubscribe function. */
  onClose(listener: (err?: Error) => void): () => void;
}
