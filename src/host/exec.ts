/**
 * The only module that starts host processes. Always argv, never a shell string.
 * `run` waits and collects output; `spawnProcess` returns a handle for long-lived or streamed work.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { channel } from 'node:diagnostics_channel';
import { BangerError } from '../api/errors.js';
import { isZombie, readStat } from './procstat.js';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Bytes or text written to stdin, then stdin is closed. */
  input?: string | Buffer;
  /** Reject with a BangerError when the exit code is not 0. @default true */
  check?: boolean;
  timeoutMs?: number;
  /** Return stdout as a Buffer instead of text. */
  binary?: boolean;
  /** Run inside a network namespace (ip netns exec NAME ...). */
  netns?: string;
}

export interface RunResult {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stdoutBytes: Buffer;
  stderr: string;
}

export type CommandLogger = (argv: readonly string[]) => void;

/**
 * Every command banger runs is published on this diagnostics channel, argv as run. No module
 * state: whoever wants them subscribes explicitly at its composition root (bangerd and bangerd-root
 * log them at debug) and can unsubscribe; with no subscriber publishing costs nothing.
 */
const commands = channel('banger:exec');
const logCommand = (argv: readonly string[]) => {
  if (commands.hasSubscribers) commands.publish(argv);
};

/** Calls `fn` with the argv of every command started from now on; returns the unsubscribe. */
export function onCommand(fn: CommandLogger): () => void {
  const listener = (argv: unknown) => fn(argv as readonly string[]);
  commands.subscribe(listener);
  return () => void commands.unsubscribe(listener);
}

function withNetns(argv: readonly string[], netns?: string): string[] {
  return netns ? ['ip', 'netns', 'exec', netns, ...argv] : [...argv];
}

export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const full = withNetns(argv, opts.netns);
  logCommand(full);
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(full[0], full.slice(1), { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (err) {
      reject(new BangerError('unavailable', `cannot run ${full[0]}: ${(err as Error).message}`, { cause: err }));
      return;
    }
    const out: Buffer[] = [];
    const errOut: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => errOut.push(b));
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      const hint = err.code === 'ENOENT' ? ` (is ${full[0]} installed? run \`banger doctor\`)` : '';
      reject(new BangerError('unavailable', `cannot run ${full[0]}: ${err.message}${hint}`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      const result: RunResult = {
        code: code ?? 128,
        signal,
        stdout: opts.binary ? '' : stdoutBytes.toString('utf8'),
        stdoutBytes,
        stderr: Buffer.concat(errOut).toString('utf8'),
      };
      if (opts.check !== false && result.code !== 0) {
        const tail = result.stderr.trim().split('\n').slice(-5).join('\n');
        reject(
          new BangerError('internal', `${full.join(' ')} failed with exit ${result.code}${signal ? ` (${signal})` : ''}: ${tail}`, {
            details: { argv: full, code: result.code },
          }),
        );
        return;
      }
      resolve(result);
    });
    child.stdin!.on('error', () => {});
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
  });
}

export interface ProcessHandle {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code (128+signal when killed). */
  readonly exit: Promise<number>;
  kill(signal?: NodeJS.Signals): void;
}

export interface SpawnProcessOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  stdio?: SpawnOptions['stdio'];
  /** Leave running after the parent exits (own process group, unref'd). */
  detached?: boolean;
  netns?: string;
}

export function spawnProcess(argv: readonly string[], opts: SpawnProcessOptions = {}): ProcessHandle {
  const full = withNetns(argv, opts.netns);
  logCommand(full);
  const child = spawn(full[0], full.slice(1), { cwd: opts.cwd, env: opts.env, stdio: opts.stdio ?? 'ignore', detached: opts.detached });
  const exit = new Promise<number>((resolve, reject) => {
    child.on('error', (err) => reject(new BangerError('unavailable', `cannot run ${full[0]}: ${err.message}`, { cause: err })));
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? osSignalNumber(signal) : 0)));
  });
  exit.catch(() => {});
  if (opts.detached) child.unref();
  if (child.pid === undefined) {
    // spawn failed synchronously (ENOENT arrives as an 'error' event); surface it through exit.
    return { pid: -1, child, exit, kill: () => {} };
  }
  return { pid: child.pid, child, exit, kill: (signal = 'SIGTERM') => void child.kill(signal) };
}

import { constants } from 'node:os';
function osSignalNumber(signal: NodeJS.Signals): number {
  return (constants.signals as Record<string, number>)[signal] ?? 0;
}

/** Is a command on PATH? */
export async function which(cmd: string): Promise<string | null> {
  const r = await run(['sh', '-c', 'command -v "$1"', 'sh', cmd], { check: false });
  return r.code === 0 ? r.stdout.trim() : null;
}

/** Is a process with this pid alive? A zombie (exited, not yet reaped) is not. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = readStat(pid);
  return stat === null || !isZombie(stat); // no /proc: trust kill(0)
}
