/**
 * One SSH connection to a guest (ssh2, pure JS) and the commands run over it.
 *
 * Many commands share the connection as concurrent channels, capped below sshd's MaxSessions
 * (10 by default) with a queue, so `vm exec` pays a channel open (~1 round trip) instead of a
 * handshake. Host keys are checked against banger's known_hosts before authentication.
 * Exit codes, signals and output come from the guest and are passed on verbatim, never parsed.
 */
import { randomBytes } from 'node:crypto';
import { PassThrough, Readable, type Writable } from 'node:stream';
import ssh2, { type ClientChannel } from 'ssh2';
import { BangerError } from '../api/errors.js';
import { hostKeyFromBlob, vmNameOf, type KnownHostsStore } from './knownhosts.js';
import { shellCommand, withEnv } from './quote.js';

const { Client } = ssh2;

/** sshd's MaxSessions defaults to 10; stay under it so an interactive `vm ssh` channel still fits. */
export const DEFAULT_MAX_CHANNELS = 8;
/** After `kill()`, how long the command gets to exit before banger closes its channel. */
const KILL_GRACE_MS = 2_000;

export interface SshTarget {
  host: string;
  port: number;
  /** known_hosts alias, `NAME.vm` (see knownhosts.ts `aliasFor`). */
  alias: string;
}

export interface ConnectOptions extends SshTarget {
  /** @default 'root' */
  username?: string;
  /** OpenSSH private key text. */
  privateKey: string;
  knownHosts: KnownHostsStore;
  /** Time allowed for TCP connect + handshake + auth. @default 20000 */
  readyTimeoutMs?: number;
  /** Keepalive probe interval; three unanswered probes drop the connection. @default 10000 */
  keepaliveIntervalMs?: number;
  /** Concurrent channels before exec calls queue. @default DEFAULT_MAX_CHANNELS */
  maxChannels?: number;
  signal?: AbortSignal;
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

const DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024;

/** Opens and authenticates a connection, checking the host key against known_hosts first. */
export function connect(opts: ConnectOptions): Promise<GuestConnection> {
  const vm = vmNameOf(opts.alias);
  const where = `${opts.host}:${opts.port}`;
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(aborted(opts.signal, vm));
      return;
    }
    const client = new Client();
    let settled = false;
    let verifyError: Error | undefined;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      client.end();
      reject(err);
    };
    const onAbort = () => fail(aborted(opts.signal!, vm));
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    client.on('ready', () => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      // Small request/reply packets (channel open, exec, exit-status): Nagle plus delayed ACKs cost ~50 ms each exec.
      client.setNoDelay(true);
      resolve(new SshConnection(client, { host: opts.host, port: opts.port, alias: opts.alias }, opts.maxChannels ?? DEFAULT_MAX_CHANNELS));
    });
    client.on('error', (err: Error & { level?: string }) => fail(verifyError ?? connectError(vm, where, err)));
    client.on('close', () => fail(verifyError ?? connectError(vm, where, new Error('connection closed during the handshake'))));
    client.connect({
      host: opts.host,
      port: opts.port,
      username: opts.username ?? 'root',
      privateKey: opts.privateKey,
      readyTimeout: opts.readyTimeoutMs ?? 20_000,
      keepaliveInterval: opts.keepaliveIntervalMs ?? 10_000,
      keepaliveCountMax: 3,
      hostVerifier: (blob: Buffer, verify: (valid: boolean) => void) => {
        let presented: { keyType: string; key: string };
        try {
          presented = hostKeyFromBlob(blob);
        } catch (err) {
          verifyError = err as Error;
          verify(false);
          return;
        }
        opts.knownHosts.verify(opts.alias, presented.keyType, presented.key).then(
          () => verify(true),
          (err: Error) => {
            verifyError = err;
            verify(false);
          },
        );
      },
    });
  });
}

function aborted(signal: AbortSignal, vm: string): BangerError {
  return new BangerError('unavailable', `connecting to VM "${vm}" over SSH was cancelled`, { cause: signal.reason });
}

/** Maps ssh2's error levels to a stage callers can branch on (wait.ts stops retrying on `auth`). */
function connectError(vm: string, where: string, err: Error & { level?: string }): BangerError {
  const stage =
    err.level === 'client-authentication' ? 'auth' : err.level === 'client-timeout' ? 'timeout' : err.level === 'client-socket' ? 'socket' : 'handshake';
  const why = stage === 'auth' ? `the guest rejected banger's SSH key (${err.message})` : err.message;
  return new BangerError('unavailable', `cannot connect to VM "${vm}" over SSH at ${where}: ${why}`, {
    cause: err,
    details: { vm, address: where, stage },
  });
}

class SshConnection implements GuestConnection {
  #closed = false;
  #closeError: Error | undefined;
  #listeners = new Set<(err?: Error) => void>();
  #active = 0;
  #waiting: Array<() => void> = [];
  readonly #vm: string;

  constructor(
    private readonly client: InstanceType<typeof Client>,
    readonly target: SshTarget,
    private readonly maxChannels: number,
  ) {
    this.#vm = vmNameOf(target.alias);
    client.on('error', (err: Error) => {
      this.#closeError ??= err;
    });
    client.on('close', () => this.#markClosed());
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    this.client.end();
    this.#markClosed();
  }

  onClose(listener: (err?: Error) => void): () => void {
    if (this.#closed) {
      queueMicrotask(() => listener(this.#closeError));
      return () => {};
    }
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  exec(command: string, opts: ExecOptions = {}): ExecHandle {
    const execId = randomBytes(8).toString('hex');
    const line = withEnv({ ...opts.env, [EXEC_ID_VAR]: execId }, command);
    return this.#open({ kind: 'exec', command, line, execId }, opts);
  }

  shell(opts: Omit<ExecOptions, 'env'> = {}): ExecHandle {
    return this.#open({ kind: 'shell', command: '(login shell)' }, opts);
  }

  async run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const command = shellCommand(argv);
    const limit = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    const handle = this.exec(command, { stdin: opts.stdin, env: opts.env });
    const stdout = collect(handle.stdout, limit, opts.onStdout);
    const stderr = collect(handle.stderr, limit, opts.onStderr);
    const stop = new Promise<never>((_, reject) => {
      const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
        handle.kill('SIGKILL');
        reject(new BangerError('unavailable', `${command} did not finish within ${opts.timeoutMs} ms in VM "${this.#vm}"; it was killed`));
      }, opts.timeoutMs);
      const onAbort = () => {
        handle.kill('SIGKILL');
        reject(new BangerError('unavailable', `${command} in VM "${this.#vm}" was cancelled`, { cause: opts.signal?.reason }));
      };
      if (opts.signal?.aborted) onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const tooBig = () => {
        handle.kill('SIGKILL');
        reject(new BangerError('internal', `${command} in VM "${this.#vm}" wrote more than ${limit} bytes; stream its output with exec instead`));
      };
      stdout.overflow.then(tooBig, () => {});
      stderr.overflow.then(tooBig, () => {});
      void handle.exit.then(
        () => {},
        () => {},
      ).finally(() => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
      });
    });
    stop.catch(() => {});
    const [status, stdoutBytes, stderrBytes] = await Promise.race([Promise.all([handle.exit, stdout.done, stderr.done]), stop]);
    const result: RunResult = {
      ...status,
      stdoutBytes,
      stderrBytes,
      stdout: stdoutBytes.toString('utf8'),
      stderr: stderrBytes.toString('utf8'),
    };
    if (opts.check && status.code !== 0) {
      const tail = result.stderr.trim().split('\n').slice(-5).join('\n');
      const how = status.code === null ? `died of ${status.signal ?? 'an unknown cause'}` : `failed with exit ${status.code}`;
      throw new BangerError('internal', `${command} ${how} in VM "${this.#vm}"${tail ? `: ${tail}` : ''}`, {
        details: { vm: this.#vm, code: status.code, signal: status.signal },
      });
    }
    return result;
  }

  /** `command` names the work in messages; `line` is what the guest shell runs. */
  #open(req: { kind: 'exec' | 'shell'; command: string; line?: string; execId?: string }, opts: ExecOptions, priority = false): ExecHandle {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const stdin = new PassThrough();
    let channel: ClientChannel | undefined;
    let killed: string | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let resolveExit!: (s: ExitStatus) => void;
    let rejectExit!: (e: Error) => void;
    let settled = false;
    const exit = new Promise<ExitStatus>((res, rej) => {
      resolveExit = (s) => {
        settled = true;
        res(s);
      };
      rejectExit = (e) => {
        settled = true;
        rej(e);
      };
    });
    exit.catch(() => {});

    if (opts.stdin === undefined) stdin.end();
    else if (opts.stdin === 'pipe') {
      // the caller writes and ends handle.stdin
    } else if (typeof opts.stdin === 'string' || Buffer.isBuffer(opts.stdin)) stdin.end(opts.stdin);
    else if (opts.stdin instanceof Readable) opts.stdin.pipe(stdin);
    if (opts.onStdout) stdout.on('data', opts.onStdout);
    if (opts.onStderr) stderr.on('data', opts.onStderr);
    // Nobody reading a stream would stall the channel's flow control (and so the command): drain it.
    setImmediate(() => {
      if (stdout.readableFlowing === null) stdout.resume();
      if (stderr.readableFlowing === null) stderr.resume();
    });

    const abandon = (err?: Error) => {
      stdout.end();
      stderr.end();
      stdin.destroy();
      if (err) rejectExit(err);
      else resolveExit({ code: null, ...(killed ? { signal: killed } : {}) });
    };

    let refusals = 0;
    // A resize before the channel is open (it may be queued) is applied once it is.
    const size = { rows: opts.pty?.rows ?? 24, cols: opts.pty?.cols ?? 80 };
    const start = () => {
      if (this.#closed) {
        this.#release();
        abandon(this.#lostError(req.command));
        return;
      }
      if (killed) {
        this.#release();
        abandon();
        return;
      }
      const pty = opts.pty ? { rows: size.rows, cols: size.cols, term: opts.pty.term ?? 'xterm-256color' } : undefined;
      const onChannel = (err: Error | undefined, ch: ClientChannel) => {
        if (err && !this.#closed && this.#active > 1 && refusals < 10) {
          // sshd frees a session slot a moment after the channel closes, so a burst can briefly
          // exceed MaxSessions: wait for the next channel to finish and try again.
          refusals++;
          this.#requeue(start);
          return;
        }
        if (err) {
          this.#release();
          abandon(
            this.#closed
              ? this.#lostError(req.command)
              : new BangerError('unavailable', `cannot start a command in VM "${this.#vm}": ${err.message}`, { cause: err }),
          );
          return;
        }
        channel = ch;
        let status: ExitStatus | undefined;
        ch.on('exit', (code: number | null, signal?: string) => {
          status = code === null ? { code: null, ...(signal ? { signal } : {}) } : { code };
        });
        ch.on('error', () => {});
        ch.on('close', () => {
          clearTimeout(killTimer);
          if (abandoned) return;
          this.#release();
          stdin.unpipe(ch);
          stdin.destroy();
          if (status) resolveExit(status);
          else if (this.#closed) rejectExit(this.#lostError(req.command));
          else resolveExit({ code: null, ...(killed ? { signal: killed } : {}) });
        });
        ch.pipe(stdout);
        ch.stderr.pipe(stderr);
        stdin.pipe(ch);
        if (pty && (pty.rows !== size.rows || pty.cols !== size.cols)) ch.setWindow(size.rows, size.cols, 0, 0);
        if (killed) sendKill(killed);
      };
      try {
        if (req.kind === 'shell') this.client.shell(pty ?? false, onChannel);
        else if (pty) this.client.exec(req.line ?? req.command, { pty }, onChannel);
        else this.client.exec(req.line ?? req.command, onChannel);
      } catch (err) {
        // ssh2 throws synchronously when the connection is already gone.
        onChannel(err as Error, undefined as unknown as ClientChannel);
      }
    };

    // A command that outlives its signal (ignores it, or it went nowhere) is abandoned after a grace period:
    // sshd keeps a no-pty session open until its process exits, so closing the channel alone would not settle exit.
    let abandoned = false;
    const sendKill = (signal: string) => {
      if (req.execId) {
        const killer = this.#open({ kind: 'exec', command: `kill ${req.command}`, line: killCommand(req.execId, signal) }, {}, true);
        killer.exit.catch(() => {});
      } else {
        channel?.close(); // a login shell: with a pty, sshd hangs it up
      }
      killTimer ??= setTimeout(() => {
        if (!channel) return;
        abandoned = true;
        channel.close();
        channel.unpipe(stdout);
        channel.stderr.unpipe(stderr);
        this.#release();
        abandon();
      }, KILL_GRACE_MS);
    };

    this.#acquire(start, priority);
    return {
      exit,
      stdin,
      stdout,
      stderr,
      kill: (signal = 'SIGTERM') => {
        const name = signal.toUpperCase().replace(/^SIG/, '');
        if (!SSH_SIGNALS.has(name)) {
          throw new BangerError('bad_request', `cannot send signal ${signal} over SSH; use one of ${[...SSH_SIGNALS].join(', ')}`);
        }
        if (settled) return;
        killed = `SIG${name}`;
        if (channel) sendKill(killed);
      },
      resize: (rows, cols) => {
        size.rows = rows;
        size.cols = cols;
        channel?.setWindow(rows, cols, 0, 0);
      },
    };
  }

  #lostError(command: string): BangerError {
    const why = this.#closeError ? `: ${this.#closeError.message}` : '';
    return new BangerError('unavailable', `lost the SSH connection to VM "${this.#vm}" while running ${command}${why}`, {
      cause: this.#closeError,
      details: { vm: this.#vm },
    });
  }

  /** Takes a channel slot; `priority` (kill requests) may exceed the cap rather than queue behind what it kills. */
  #acquire(start: () => void, priority = false): void {
    if (priority || this.#active < this.maxChannels) {
      this.#active++;
      start();
    } else {
      this.#waiting.push(start);
    }
  }

  /** Gives the slot back and waits first in line for the next one. */
  #requeue(start: () => void): void {
    this.#active--;
    this.#waiting.unshift(start);
  }

  #release(): void {
    const next = this.#active > this.maxChannels ? undefined : this.#waiting.shift();
    if (next) next();
    else this.#active--;
  }

  #markClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Queued commands fail now rather than wait for a channel that will never open.
    for (const start of this.#waiting.splice(0)) {
      this.#active++;
      start();
    }
    for (const listener of this.#listeners) listener(this.#closeError);
    this.#listeners.clear();
  }
}

/** The signal names RFC 4254 defines. */
const SSH_SIGNALS = new Set(['ABRT', 'ALRM', 'FPE', 'HUP', 'ILL', 'INT', 'KILL', 'PIPE', 'QUIT', 'SEGV', 'TERM', 'USR1', 'USR2']);

/**
 * Every exec exports a random id; a kill signals the processes that carry it (the command's shell
 * and everything it started). SSH `signal` requests are not used: sshd refuses them for root
 * logins ("session signalling requires privilege separation"), and banger's guests log in as root.
 */
const EXEC_ID_VAR = 'BANGER_EXEC_ID';
// Oldest first (ascending pids): the command's shell dies of the signal before it could report a child's death as 128+N.
const KILL_SCRIPT = [
  'for d in /proc/[0-9]*; do',
  '  tr "\\000" "\\n" < "$d/environ" 2>/dev/null | grep -qx "$1=$2" && echo "${d#/proc/}"',
  'done | sort -n | xargs -r kill -s "$3" 2>/dev/null',
  'true',
].join('\n');

function killCommand(execId: string, signal: string): string {
  return shellCommand(['sh', '-c', KILL_SCRIPT, 'sh', EXEC_ID_VAR, execId, signal.replace(/^SIG/, '')]);
}

/** Collects a stream up to `limit` bytes; `overflow` resolves if it goes beyond. */
function collect(stream: Readable, limit: number, onChunk?: (chunk: Buffer) => void): { done: Promise<Buffer>; overflow: Promise<void> } {
  const chunks: Buffer[] = [];
  let size = 0;
  let signalOverflow!: () => void;
  const overflow = new Promise<void>((res) => (signalOverflow = res));
  const done = new Promise<Buffer>((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => {
      onChunk?.(chunk);
      if (size > limit) return;
      size += chunk.length;
      if (size > limit) signalOverflow();
      else chunks.push(chunk);
    });
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
  done.catch(() => {});
  return { done, overflow };
}
