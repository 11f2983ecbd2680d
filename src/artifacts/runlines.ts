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
  const code = await proc.exit;
  if (code !== 0) {
    throw new BangerError('internal', `${opts.label ?? argv[0]} failed with exit ${code}: ${tail.slice(-8).join('\n')}`, {
      details: { argv, code },
    });
  }
}
