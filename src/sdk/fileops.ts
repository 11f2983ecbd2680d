/**
 * Guest file operations as argv (no shell quoting anywhere: paths travel as their own argv words,
 * `sh -c` scripts take them as "$1"), and the parser of the listing they print. Pure: files.ts runs them.
 */
import { BangerError } from '../api/errors.js';

export type EntryType = 'file' | 'dir' | 'symlink' | 'other';

export interface FileEntry {
  /** The path as the guest names it (under the listed directory). */
  path: string;
  name: string;
  type: EntryType;
  size: number;
  /** Permission bits, e.g. 0o644. */
  mode: number;
  modifiedAt: Date;
}

export const fileArgv = {
  read: (path: string) => ['cat', '--', path],
  // The parent is made first so writing a new tree needs no separate makeDir.
  write: (path: string) => ['sh', '-c', 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1"', 'banger-write', path],
  exists: (path: string) => ['test', '-e', path],
  remove: (path: string) => ['rm', '-rf', '--', path],
  makeDir: (path: string) => ['mkdir', '-p', '--', path],
  rename: (from: string, to: string) => ['mv', '-T', '--', from, to],
  // NUL-terminated records: a name may hold tabs or newlines.
  list: (path: string, depth: number) => ['find', path, '-mindepth', '1', '-maxdepth', String(depth), '-printf', '%y\\t%s\\t%m\\t%T@\\t%p\\0'],
  stat: (path: string) => ['find', path, '-maxdepth', '0', '-printf', '%y\\t%s\\t%m\\t%T@\\t%p\\0'],
};

const TYPES: Record<string, EntryType> = { f: 'file', d: 'dir', l: 'symlink' };

/** Parses `find -printf '%y\t%s\t%m\t%T@\t%p\0'` output. */
export function parseListing(out: Buffer | string): FileEntry[] {
  const text = typeof out === 'string' ? out : out.toString('utf8');
  return text
    .split('\0')
    .filter((r) => r.length > 0)
    .map((r) => {
      const [y, size, mode, mtime, ...rest] = r.split('\t');
      const path = rest.join('\t');
      if (!path || size === undefined || mode === undefined || mtime === undefined) throw new BangerError('internal', `unexpected listing line from the guest: ${JSON.stringify(r.slice(0, 200))}`);
      return {
        path,
        name: path.split('/').filter(Boolean).slice(-1)[0] ?? path,
        type: TYPES[y!] ?? 'other',
        size: Number(size),
        mode: parseInt(mode, 8),
        modifiedAt: new Date(Number(mtime) * 1000),
      };
    })
    .sort((a, b) => a.path.localeCompare(b.path));
}

/** A failed file operation as banger's error: a missing path is not_found, the rest bad_request with the guest's words. */
export function fileError(op: string, path: string, exitCode: number, stderr: string): BangerError {
  const why = stderr.trim().split('\n').slice(-1)[0] ?? '';
  if (/No such file or directory/.test(stderr)) return new BangerError('not_found', `${op} ${path}: no such file or directory in the guest`);
  return new BangerError('bad_request', `${op} ${path} failed in the guest (exit ${exitCode})${why ? `: ${why}` : ''}`);
}
