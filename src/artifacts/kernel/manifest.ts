/** The kernel content id and manifest file I/O. */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BangerError } from '../../api/errors.js';
import { type KernelFiles, KernelManifest } from '../../api/kernel.js';
import { KERNEL_FILES } from '../../store/paths.js';

/**
 * The content id: sha256 over `key sha256\n` lines of the stored files, sorted by key. The
 * modules tree is not hashed: it comes from the same package as vmlinuz, which is.
 */
export function kernelContentId(files: KernelFiles): string {
  const lines = Object.entries(files)
    .filter(([, f]) => f !== undefined)
    .map(([key, f]) => `${key} ${f!.sha256}\n`)
    .sort();
  return createHash('sha256').update(lines.join('')).digest('hex');
}

export async function writeKernelManifest(dir: string, manifest: KernelManifest): Promise<void> {
  await writeFile(join(dir, KERNEL_FILES.manifest), `${JSON.stringify(KernelManifest.parse(manifest), null, 2)}\n`);
}

/** Reads and validates `dir/manifest.json`. */
export async function readKernelManifest(dir: string): Promise<KernelManifest> {
  const path = join(dir, KERNEL_FILES.manifest);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new BangerError('not_found', `no kernel manifest at ${path}; pull or import the kernel again`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new BangerError('internal', `${path} is not valid JSON; remove the kernel and pull it again`, { cause: err });
  }
  const parsed = KernelManifest.safeParse(json);
  if (!parsed.success) {
    throw new BangerError('internal', `${path} is not a valid kernel manifest (${parsed.error.issues[0]?.message}); remove the kernel and pull it again`, {
      details: { issues: parsed.error.issues },
    });
  }
  return parsed.data;
}
