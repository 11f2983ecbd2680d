/** Runs one action per named target concurrently; prints results in the order given and reports every failure. */
import { BangerError, exitCodeFor, toBangerError } from '../api/errors.js';

export class ReportedFailure extends Error {
  constructor(readonly exitCode: number) {
    super('reported');
  }
}

export async function forEachTarget<T>(names: string[], action: (name: string) => Promise<T>, render: (name: string, r: T) => string): Promise<void> {
  const settled = await Promise.allSettled(names.map((n) => action(n)));
  let firstCode = 0;
  settled.forEach((s, i) => {
    if (s.status === 'fulfilled') {
      const line = render(names[i], s.value);
      if (line) process.stdout.write(`${line}\n`);
    } else {
      const e = toBangerError(s.reason);
      process.stderr.write(`banger: ${names[i]}: ${e.message}\n`);
      if (!firstCode) firstCode = exitCodeFor(e.code);
    }
  });
  if (firstCode) throw new ReportedFailure(firstCode);
}

/**
 * The exit code for commander's own outcome: help and version asked for exit 0, a bare group
 * (`banger vm`) shows help and exits 1 as commander does, anything else (unknown option, missing or
 * invalid argument) is a usage error: 2, like every other bad request (api/errors.ts).
 */
export function usageExitCode(err: { exitCode: number; code: string }): number {
  if (err.exitCode === 0 || err.code === 'commander.help' || err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return err.exitCode;
  return exitCodeFor('bad_request');
}

export function describeError(err: unknown): { message: string; exitCode: number } {
  if (err instanceof ReportedFailure) return { message: '', exitCode: err.exitCode };
  const e = err instanceof BangerError ? err : toBangerError(err);
  return { message: `banger: ${e.message}`, exitCode: exitCodeFor(e.code) };
}
