/**
 * Reading files of an untrusted root filesystem from the host. A symlink inside an imported rootfs
 * (`etc/os-release -> /etc/shadow`) must resolve inside that root the way the guest sees it, never
 * onto the host's own files: components are walked one by one, like chroot path resolution.
 */
import { lstat, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BangerError } from '../../api/errors.js';

const MAX_SYMLINKS = 40; // as the kernel's ELOOP limit

/** Host path of `guestPath` inside `root`, every symlink resolved within the root; null if absent. */
export async function resolveInRoot(root: string, guestPath: string): Promise<string | null> {
  let pending = guestPath.split('/').filter((p) => p !== '' && p !== '.');
  const resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      resolved.pop(); // '..' at the root stays at the root
      continue;
    }
    const host = join(root, ...resolved, part);
    let st;
    try {
      st = await lstat(host);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
      throw err;
    }
    if (st.isSymbolicLink()) {
      if (++hops > MAX_SYMLINKS) throw new BangerError('bad_request', `too many symlinks resolving ${guestPath} in the image`);
      const target = await readlink(host);
      const targetParts = target.split('/').filter((p) => p !== '' && p !== '.');
      if (target.startsWith('/')) resolved.length = 0;
      pending = [...targetParts, ...pending];
      continue;
    }
    resolved.push(part);
  }
  return join(root, ...resolved);
}

/** Reads a regular file inside an untrusted root (null if absent or not a regular file). */
export async function readFileInRoot(root: string, guestPath: string, maxBytes = 16 * 1024 * 1024): Promise<string | null> {
  const host = await resolveInRoot(root, guestPath);
  if (host === null) return null;
  const st = await lstat(host);
  if (!st.isFile() || st.size > maxBytes) return null;
  return readFile(host, 'utf8');
}
