/**
 * Guest file operations as argv (no shell quoting anywhere: paths travel as their own argv words,
 * `sh -c` scripts take them as "$1"); listings are read by guest/fileinfo.ts's parser, the one every
 * surface (E2B endpoint, SDK, MCP) uses. Pure: files.ts runs them.
 */
import { BangerError } from '../api/errors.js';
import { FIND_PRINTF, parseFindOutput, type GuestEntry } from '../guest/fileinfo.js';

/** One guest file as the guest's `find -printf` describes it (guest/fileinfo.ts: one parser for every surface). */
export type FileEntry = GuestEntry;

export const fileArgv = {
  read: (path: string) => ['cat', '--', path],
  // The parent is made first so writing a new tree needs no separate makeDir.
  write: (path: string) => ['sh', '-c', 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1"', 'banger-write', path],
  exists: (path: string) => ['test', '-e', path],
  remove: (path: string) => ['rm', '-rf', '--', path],
  makeDir: (path: string) => ['mkdir', '-p', '--', path],
  rename: (from: string, to: string) => ['mv', '-T', '--', from, to],
  // NUL-separated fields: a name may hold tabs or newlines.
  list: (path: string, depth: number) => ['find', path, '-mindepth', '1', '-maxdepth', String(depth), '-printf', FIND_PRINTF],
  stat: (path: string) => ['find', path, '-maxdepth', '0', '-printf', FIND_PRINTF],
};

/** The entries of a listing, sorted by path. */
export function parseListing(out: Buffer | string): FileEntry[] {
  return parseFindOutput(out).sort((a, b) => a.path.localeCompare(b.path));
}

/** A failed file operation as banger's error: a missing path is not_found, the rest bad_request with the guest's words. */
export function fileError(op: string, path: string, exitCode: number, stderr: string): BangerError {
  const why = stderr.trim().split('\n').slice(-1)[0] ?? '';
  if (/No such file or directory/.test(stderr)) return new BangerError('not_found', `${op} ${path}: no such file or directory in the guest`);
  return new BangerError('bad_request', `${op} ${path} failed in the guest (exit ${exitCode})${why ? `: ${why}` : ''}`);
}
