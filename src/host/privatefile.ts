/**
 * Files banger creates in places someone else might have prepared a trap: pid files and temp
 * files. Every one is created with O_CREAT|O_EXCL|O_NOFOLLOW, so a symlink (or any existing
 * file) planted at the name is never followed or reused; temp names carry random bytes, so they
 * cannot be predicted. Also the runtime directory check (owned by us, 0700, not a link).
 * Used by the daemon's pid file, `image export -o`, ssh_config, and workspace/tempfiles.ts.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, lstatSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BangerError } from '../api/errors.js';

/** Flags for a new private file: never an existing file, never through a symlink (add the access mode). */
export const NEW_FILE_FLAGS = constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const EXCL_FLAGS = constants.O_WRONLY | NEW_FILE_FLAGS;

/** Creates `path` (which must not exist) and writes `data`; never follows a link. Sync: pid files. */
export function writeNewFileSync(path: string, data: string | Buffer, mode = 0o600): void {
  const fd = openSync(path, EXCL_FLAGS, mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces whatever is at `path` (a stale file, or a symlink: the link itself is removed, its
 * target untouched) with a new file holding `data`. The directory must be private (checkPrivateDir).
 */
export function replaceFileSync(path: string, data: string | Buffer, mode = 0o600): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  writeNewFileSync(path, data, mode);
}

/** An unpredictable sibling name for `target` (`.NAME.tmp-<random>`), for write-then-rename. */
export function tempPathBeside(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp-${randomBytes(8).toString('hex')}`);
}

/** Creates a new temp file next to `target` (O_EXCL|O_NOFOLLOW, random name); rename it over `target` when complete. */
export async function openTempBeside(target: string, mode = 0o600): Promise<{ path: string; handle: FileHandle }> {
  const path = tempPathBeside(target);
  return { path, handle: await open(path, EXCL_FLAGS, mode) };
}

/** Why `dir` (looked at with lstat: a link is not followed) is not a private directory of `uid`, or null. Pure over the stat. */
export function privateDirProblem(st: { isDirectory(): boolean; isSymbolicLink(): boolean; uid: number; mode: number }, uid: number): string | null {
  if (st.isSymbolicLink()) return 'is a symbolic link';
  if (!st.isDirectory()) return 'is not a directory';
  if (st.uid !== uid) return `is owned by uid ${st.uid}, not by you (uid ${uid})`;
  if ((st.mode & 0o777) !== 0o700) return `has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}, not 0700`;
  return null;
}

/**
 * Refuses `dir` unless it is a real directory owned by `uid` with mode 0700: someone else's
 * directory at a predictable name (`/tmp/banger-<uid>`) could hold a planted socket or links for
 * our pid file. A missing directory is fine here (returns false): there is nothing in it to trust.
 */
export function checkPrivateDir(dir: string, what: string, uid = process.getuid?.() ?? 0): boolean {
  let st;
  try {
    st = lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  const problem = privateDirProblem(st, uid);
  if (problem) {
    throw new BangerError(
      'conflict',
      `${what} ${dir} ${problem}; banger refuses it, since another user could have prepared it. Remove it (\`sudo rm -rf ${dir}\`) or set XDG_RUNTIME_DIR to a directory of your own`,
      { details: { path: dir } },
    );
  }
  return true;
}

/** Creates `dir` (0700) if missing, then checks it with checkPrivateDir. */
export function ensurePrivateDir(dir: string, what: string, uid = process.getuid?.() ?? 0): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') mkdirSync(dir, { recursive: true, mode: 0o700 });
    else if (code !== 'EEXIST') throw err;
  }
  checkPrivateDir(dir, what, uid);
}
