/**
 * Private temp files for the daemon's host side of workspaces (prepare's bundle, a spilled export
 * patch). Each job gets a fresh directory from mkdtemp (random name, mode 0700), checked after
 * creation without following links; files in it are created O_CREAT|O_EXCL|O_NOFOLLOW with mode
 * 0600, so a name planted by someone else (a file or a symlink) is an error, never followed.
 */
import { constants } from 'node:fs';
import { lstat, mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BangerError } from '../api/errors.js';
import { NEW_FILE_FLAGS } from '../host/privatefile.js';

const { O_WRONLY, O_RDWR } = constants;

export interface PrivateDir {
  path: string;
  remove(): Promise<void>;
}

/** A fresh directory only this user can enter, under `parent` (default: the OS temp dir). */
export async function privateTempDir(prefix: string, parent: string = tmpdir()): Promise<PrivateDir> {
  const path = await mkdtemp(join(parent, prefix));
  const remove = () => rm(path, { recursive: true, force: true });
  const st = await lstat(path);
  const uid = process.getuid?.() ?? st.uid;
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    await remove().catch(() => {});
    throw new BangerError('internal', `the temp directory ${path} is not private (mode ${(st.mode & 0o777).toString(8)}, owner ${st.uid}); check ${parent}`);
  }
  return { path, remove };
}

/** Creates `path` (which must not exist) with mode 0600 and writes `data`. */
export async function writePrivateFile(path: string, data: string | Buffer): Promise<void> {
  const fh = await open(path, O_WRONLY | NEW_FILE_FLAGS, 0o600);
  try {
    await fh.writeFile(data);
  } finally {
    await fh.close();
  }
}

/** Creates `path` (which must not exist) with mode 0600, open for reading and writing. */
export function openPrivateFile(path: string): Promise<FileHandle> {
  return open(path, O_RDWR | NEW_FILE_FLAGS, 0o600);
}
