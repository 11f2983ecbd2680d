/**
 * `run()`: quote argv, run it on a guest connection and collect its output, bounded (guest output is
 * untrusted), with a timeout, cancellation and an optional exit-code check. Built on `exec()` alone.
 */
import type { Readable } from 'node:stream';
import { BangerError } from '../api/errors.js';
import type { GuestConnection, RunOptions, RunResult } from './connection.js';
import { shellCommand } from './quote.js';

const DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024;

/** How a command is named in messages: its first line, at most 80 characters (a script given inline is kilobytes). Pure. */
export function commandLabel(command: string): string {
  const first = command.split('\n', 1)[0];
  return first.length > 80 || first.length < command.length ? `${first.slice(0, 80)}…` : first;
}

/** `vm` names the guest in messages. */
export async function runCommand(conn: GuestConnection, vm: string, argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const command = shellCommand(argv);
  const label = commandLabel(command);
  const limit = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const handle = conn.exec(command, { stdin: opts.stdin, env: opts.env });
  const stdout = collect(handle.stdout, limit, opts.onStdout);
  const stderr = collect(handle.stderr, limit, opts.onStderr);
  const stop = new Promise<never>((_, reject) => {
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
      handle.kill('SIGKILL');
      reject(new BangerError('unavailable', `${label} did not finish within ${opts.timeoutMs} ms in VM "${vm}"; it was killed`));
    }, opts.timeoutMs);
    const onAbort = () => {
      handle.kill('SIGKILL');
      reject(new BangerError('unavailable', `${label} in VM "${vm}" was cancelled`, { cause: opts.signal?.reason }));
    };
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const tooBig = () => {
      handle.kill('SIGKILL');
      reject(new BangerError('internal', `${label} in VM "${vm}" wrote more than ${limit} bytes; stream its output with exec instead`));
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
    throw new BangerError('internal', `${label} ${how} in VM "${vm}"${tail ? `: ${tail}` : ''}`, {
      details: { vm, code: status.code, signal: status.signal },
    });
  }
  return result;
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
