/**
 * Runs a long host command whose output is progress (apt-get update, mmdebstrap): each output line
 * goes to a callback as it comes, and a failure carries the last lines.
 */
import { BangerError } from '../api/errors.js';
import { spawnProcess } from '../host/exec.js';

export interface RunLinesOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Named in the error message. @default argv[0] */
  label?: string;
  /** Aborting kills the command (SIGTERM) and the call rejects with `unavailable`. */
  signal?: AbortSignal;
}

/** Runs `argv`, handing each stdout/stderr line to `onLine`; rejects with the tail on a non-zero exit. */
export async function runLines(argv: string[], onLine: (line: string) => void, opts: RunLinesOptions = {}): Promise<void> {
  const proc = spawnProcess(argv, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env, cwd: opts.cwd });
  const tail: string[] = [];
  const take = () => {
    let partial = '';
    return (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        tail.push(l);
        if (tail.length > 15) tail.shift();
        onLine(l);
      }
    };
  };
  proc.child.stderr?.on('data', take());
  proc.child.stdout?.on('data', take());
  const onAbort = () => proc.kill('SIGTERM');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  const code = await proc.exit.finally(() => opts.signal?.removeEventListener('abort', onAbort));
  if (opts.signal?.aborted) throw new BangerError('unavailable', `${opts.label ?? argv[0]} was cancelled (the client went away); nothing was registered`);
  if (code !== 0) {
    throw new BangerError('internal', `${opts.label ?? argv[0]} failed with exit ${code}: ${tail.slice(-8).join('\n')}`, {
      details: { argv, code },
    });
  }
}
