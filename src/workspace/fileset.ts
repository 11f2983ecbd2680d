/**
 * The file-set planner (pure): which host paths a workspace copies, and how the host's uncommitted
 * state becomes the "prepared" commit in the guest. Inputs are git's listings and lstat results;
 * the I/O that gathers them lives in repo.ts.
 *
 * Rules: tracked files (the index) by default; untracked-but-not-ignored files with
 * includeUntracked; ignored files never (git never lists them). Submodules (gitlinks) are never
 * plain files: they are refused in shallow mode and carried as repositories in full_copy.
 */
import type { PlannedFile } from '../api/workspace.js';
import { GITLINK_MODE, type IndexEntry, type RepoPath } from './gitlist.js';

/** What lstat said about a path in the working tree. */
export type PathStat =
  | { kind: 'file' | 'symlink'; mode: number; size: number }
  | { kind: 'directory' | 'other' | 'missing' }
  /** A leading directory is a symlink (or not a directory): git calls it deleted; never read through it. */
  | { kind: 'behindSymlink' };

export interface FileSetInput {
  /** The host index, one entry per path. */
  tracked: readonly IndexEntry[];
  /** Untracked, not ignored (`ls-files --others --exclude-standard`); empty unless asked for. */
  untracked: readonly RepoPath[];
  /** Paths whose working-tree content differs from HEAD (`git diff-index --name-only HEAD`). */
  dirty: readonly RepoPath[];
  stat(p: RepoPath): PathStat;
}

export interface PlanEntry extends PlannedFile {
  raw: Buffer;
}

export interface FileSet {
  files: PlanEntry[];
  fileCount: number;
  bytes: number;
  submodules: RepoPath[];
  skipped: Array<{ path: string; reason: string }>;
  /** Tracked paths shipped with content that differs from HEAD. */
  modified: RepoPath[];
  /** For the prepared commit: paths to (re)hash from the working tree (git update-index --add). */
  prepAdd: RepoPath[];
  /** For the prepared commit: paths HEAD has that the guest will not (git update-index --force-remove). */
  prepRemove: RepoPath[];
}

const key = (p: RepoPath) => p.raw.toString('latin1');

export function planFileSet(input: FileSetInput): FileSet {
  const files: PlanEntry[] = [];
  const skipped: FileSet['skipped'] = [];
  const submodules: RepoPath[] = [];
  const consider = (p: RepoPath, tracked: boolean) => {
    const s = input.stat(p);
    if (s.kind === 'file' || s.kind === 'symlink') {
      const kind = s.kind === 'symlink' ? 'symlink' : s.mode & 0o111 ? 'exec' : 'file';
      files.push({ path: p.path, raw: p.raw, kind, mode: s.mode & 0o7777, size: s.size, tracked });
      return;
    }
    const reason =
      s.kind === 'missing'
        ? 'deleted in the working tree'
        : s.kind === 'behindSymlink'
          ? 'behind a symbolic link in the working tree (not followed)'
          : s.kind === 'directory'
            ? 'a directory in the working tree'
            : 'not a regular file or symlink';
    skipped.push({ path: p.path, reason });
  };
  for (const e of input.tracked) {
    if (e.mode === GITLINK_MODE) submodules.push(e);
    else consider(e, true);
  }
  for (const u of input.untracked) {
    // `ls-files --others` prints a nested repository as `dir/`: it is not ours to copy.
    if (u.path.endsWith('/')) skipped.push({ path: u.path, reason: 'a nested git repository (not a submodule)' });
    else consider(u, false);
  }

  const shipped = new Set(files.map(key));
  const gitlinks = new Set(submodules.map(key));
  const dirty = input.dirty.filter((d) => !gitlinks.has(key(d)));
  const dirtyKeys = new Set(dirty.map(key));
  const trackedKeys = new Set(input.tracked.map(key));
  const prepAdd = [...dirty.filter((d) => shipped.has(key(d))), ...input.untracked.filter((u) => shipped.has(key(u)) && !dirtyKeys.has(key(u)))];
  const prepRemove = dirty.filter((d) => !shipped.has(key(d)));
  const modified = dirty.filter((d) => shipped.has(key(d)) && trackedKeys.has(key(d)));

  return {
    files,
    fileCount: files.length,
    bytes: files.reduce((n, f) => n + f.size, 0),
    submodules,
    skipped,
    modified,
    prepAdd,
    prepRemove,
  };
}

/** The refusal for submodules in shallow mode, naming them. */
export function submoduleRefusal(paths: readonly string[]): string {
  const shown = paths.slice(0, 5).join(', ') + (paths.length > 5 ? `, and ${paths.length - 5} more` : '');
  return `the repo has submodules (${shown}); shallow mode copies only the top repository's HEAD: use --mode full_copy`;
}
