/**
 * The kernel store's layout: content-addressed directories kernels/<sha256>/ holding vmlinuz, vmlinux,
 * initrd.img, the modules tree and manifest.json. Everything is built in a staging directory and
 * renamed into place in one step (publish), so a kernel directory is either complete or absent; an
 * interrupted pull leaves only staging junk, which the next one removes. The name -> sha256 registry
 * lives in SQLite (the daemon's). Filling the store: pull.ts (Debian) and import.ts (the user's files).
 */
import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BangerError } from '../../api/errors.js';
import type { KernelFiles, KernelManifest } from '../../api/kernel.js';
import type { Progress } from '../../api/progress.js';
import type { Logger } from '../../host/logger.js';
import { KERNEL_FILES, type Paths } from '../../store/paths.js';
import { hashFile } from '../digest.js';
import { kernelContentId, readKernelManifest, writeKernelManifest } from './manifest.js';
import { cleanStaleStaging, createStaging, type Staging } from '../staging.js';

export { readKernelManifest } from './manifest.js';

const SHA256 = /^[0-9a-f]{64}$/;

export interface KernelStoreResult {
  manifest: KernelManifest;
  /** The kernel's directory (paths.kernelDir(manifest.sha256)). */
  dir: string;
  /** True when an existing kernel directory was reused and nothing was built. */
  cached: boolean;
}

/** What pulling and importing a kernel both take. */
export interface KernelStoreOptions {
  paths: Paths;
  progress?: Progress;
  log?: Logger;
  /** The static busybox for the initramfs. @default /bin/busybox */
  busyboxPath?: string;
}

/** Every complete kernel directory in the store with its manifest (unreadable ones are skipped). */
export async function listKernelDirs(paths: Paths): Promise<Array<{ dir: string; manifest: KernelManifest }>> {
  let names: string[];
  try {
    names = await readdir(paths.kernelsDir);
  } catch {
    return [];
  }
  const out: Array<{ dir: string; manifest: KernelManifest }> = [];
  for (const name of names.filter((n) => SHA256.test(n)).sort()) {
    const dir = paths.kernelDir(name);
    try {
      out.push({ dir, manifest: await readKernelManifest(dir) });
    } catch {
      // A directory without a valid manifest was not published by banger; leave it alone.
    }
  }
  return out;
}

/** Removes a kernel directory: renamed into staging first, so it vanishes in one step. */
export async function removeKernelDir(paths: Paths, sha: string): Promise<void> {
  if (!SHA256.test(sha)) throw new BangerError('bad_request', `not a kernel id: ${JSON.stringify(sha)}`);
  const staging = await openStaging(paths);
  try {
    await rename(paths.kernelDir(sha), join(staging.dir, 'removed'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  } finally {
    await staging.remove();
  }
}

/** A fresh staging directory, after removing what interrupted runs left. */
export async function openStaging(paths: Paths): Promise<Staging> {
  await cleanStaleStaging(paths, undefined, 'kernel');
  return createStaging(paths, 'work', 'kernel');
}

export type ManifestBase = Omit<KernelManifest, 'sha256' | 'files' | 'importedAt'>;

/** Hashes the staged files, writes manifest.json and renames the directory into the store. */
export async function publish(paths: Paths, out: string, progress: Progress, base: ManifestBase): Promise<KernelStoreResult> {
  progress('hash', 'sha256 of the kernel files');
  const file = async (key: keyof typeof KERNEL_FILES) => ({ path: KERNEL_FILES[key], ...(await hashFile(join(out, KERNEL_FILES[key]))) });
  const files: KernelFiles = {
    vmlinux: await file('vmlinux'),
    initrd: await file('initrd'),
    ...((await exists(join(out, KERNEL_FILES.vmlinuz))) ? { vmlinuz: await file('vmlinuz') } : {}),
  };
  const sha256 = kernelContentId(files);
  const manifest: KernelManifest = { ...base, sha256, files, importedAt: new Date().toISOString() };
  await writeKernelManifest(out, manifest);

  progress('publish', sha256.slice(0, 12));
  await mkdir(paths.kernelsDir, { recursive: true });
  const dir = paths.kernelDir(sha256);
  try {
    await rename(out, dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw err;
    // The same content is already stored (a concurrent or earlier build): use it. The directory's
    // own manifest describes its files; the name is the caller's (the registry maps names to ids).
    return { manifest: { ...(await readKernelManifest(dir)), name: base.name }, dir, cached: true };
  }
  return { manifest, dir, cached: false };
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
