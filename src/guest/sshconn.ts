/**
 * One authenticated ssh2 connection as a GuestConnection: opens exec and shell channels, caps them
 * below sshd's MaxSessions with a queue, and carries kill (by exec id) and pty resize to each command.
 *
 * Many commands share the connection as concurrent channels, so `vm exec` pays a channel open
 * (~1 round trip) instead of a handshake. ssh.ts's connect() makes one after the handshake.
 */
import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import type ssh2 from 'ssh2';
import type { ClientChannel } from 'ssh2';
import { BangerError } from '../api/errors.js';
import type { ExecHandle, ExecOptions, ExitStatus, GuestConnection, RunOptions, RunResult, SshTarget } from './connection.js';
import { vmNameOf } from './knownhosts.js';
import { withEnv } from './quote.js';
import { EXEC_ID_VAR, SSH_SIGNALS, killCommand } from './sshkill.js';
import { commandLabel, runCommand } from './sshrun.js';

/** After `kill()`, how long the command gets to exit before banger closes its channel. */
const KILL_GRACE_MS = 2_000;

export class SshConnection implements GuestConnection {
  #closed = false;
  #closeError: Error | undefined;
  #listeners = new Set<(err?: Error) => void>();
  #active = 0;
  #waiting: Array<() => void> = [];
  readonly #vm: string;

  constructor(
    private readonly client: InstanceType<typeof ssh2.Client>,
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

  run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return runCommand(this, this.#vm, argv, opts);
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
        const killer = this.#open({ kind: 'exec', command: `kill ${commandLabel(req.command)}`, line: killCommand(req.execId, signal) }, {}, true);
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
    return new BangerError('unavailable', `lost the SSH connection to VM "${this.#vm}" while running ${commandLabel(command)}${why}`, {
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
