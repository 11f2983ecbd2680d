/**
 * The jail's files on the host: hard-linking the VM's inputs into the jail root (copying read-only
 * inputs across filesystems), reading the jailed Firecracker's pid, and moving snapshot files out.
 * jailer.ts computes the layout as pure values; this file does the I/O.
 */
import { chown, copyFile, link, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { BangerError } from '../../api/errors.js';
import type { JailLayout } from './jailer.js';

/** Jailed Firecracker runs under another pid; the jailer writes it to <root>/<exec-name>.pid. */
export async function jailedPid(jail: JailLayout, bin: string, fallback: number): Promise<number> {
  const text = await readFile(join(jail.rootDir, `${basename(bin)}.pid`), 'utf8').catch(() => '');
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : fallback;
}

export async function populateJail(jail: JailLayout, uid: number, gid: number): Promise<void> {
  const ours = uid === process.getuid?.();
  await mkdir(join(jail.rootDir, 'run'), { recursive: true, mode: 0o700 });
  if (!ours) await chown(join(jail.rootDir, 'run'), uid, gid);
  for (const f of jail.files) {
    if (f.direction !== 'link') continue;
    const target = jail.onHost(f.jail);
    await rm(target, { force: true });
    try {
      await link(f.host, target);
    } catch (err) {
      const readOnlyInput = f.jail === '/vmlinux' || f.jail === '/initrd.img' || f.jail.startsWith('/snapshot');
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV' || !readOnlyInput) {
        throw new BangerError('unavailable', `cannot link ${f.host} into the jail at ${target}: ${(err as Error).message}; put the jailer's chroot base on the same filesystem as banger's state directory`, { cause: err });
      }
      await copyFile(f.host, target);
    }
    if (!ours) await chown(target, uid, gid);
  }
}

export async function moveFile(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await copyFile(from, to);
    await rm(from, { force: true });
  }
}
