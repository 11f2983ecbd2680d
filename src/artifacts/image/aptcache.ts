/**
 * Keeps the .debs of the last image build so the next build downloads only what changed. apt
 * trusts a file already in /var/cache/apt/archives when its hash matches the index, so seeding
 * the bootstrap's archive directory with the previous build's .debs is all it takes (build.ts
 * does it with mmdebstrap's sync-in/sync-out hooks, then `harvestAptArchives`).
 */
import { copyFile, mkdir, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

const isDeb = (n: string) => n.endsWith('.deb');

async function listDebs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter(isDeb);
  } catch {
    return [];
  }
}

async function moveFile(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await copyFile(from, `${to}.part`);
    await rename(`${to}.part`, to);
    await unlink(from);
  }
}

export interface HarvestResult {
  /** .debs this build needed that the cache did not have. */
  added: number;
  /** Cached .debs this build did not use (older versions), deleted. */
  pruned: number;
}

/**
 * Moves the build's .debs into the cache and prunes the ones it no longer uses, so the cache holds
 * exactly the last build's packages. The archive directory is left without .debs.
 */
export async function harvestAptArchives(archivesDir: string, cacheDir: string): Promise<HarvestResult> {
  await mkdir(cacheDir, { recursive: true });
  const used = new Set(await listDebs(archivesDir));
  const cached = new Set(await listDebs(cacheDir));
  let added = 0;
  for (const deb of used) {
    if (cached.has(deb)) await unlink(join(archivesDir, deb));
    else {
      await moveFile(join(archivesDir, deb), join(cacheDir, deb));
      added++;
    }
  }
  let pruned = 0;
  for (const deb of cached) {
    if (!used.has(deb)) {
      await unlink(join(cacheDir, deb)).catch(() => {});
      pruned++;
    }
  }
  return { added, pruned };
}
