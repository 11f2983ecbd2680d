/**
 * Finding host tools a non-root user runs but does not have on PATH: Debian and Ubuntu keep
 * mkfs.ext4 (and other admin tools any user may run on their own files) in /usr/sbin and /sbin,
 * which are not on a normal user's PATH. Looks on PATH first, then there.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

export const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** The directories searched for `name`, in order (PATH, then the sbin directories not already on it). Pure. */
export function toolSearchPath(pathVar: string | undefined): string[] {
  const dirs = (pathVar ?? '').split(delimiter).filter((d) => d.startsWith('/'));
  return [...dirs, ...SBIN_DIRS.filter((d) => !dirs.includes(d))];
}

/** Absolute path of an executable `name`, or null. */
export async function findTool(name: string, pathVar = process.env.PATH): Promise<string | null> {
  for (const dir of toolSearchPath(pathVar)) {
    const p = join(dir, name);
    if (await access(p, constants.X_OK).then(() => true, () => false)) return p;
  }
  return null;
}
