/**
 * Staging directories for half-built artifacts. Each is named `<prefix><pid>-<random>`, so a
 * later run can tell an abandoned one (its process is gone) from one still being filled by a
 * concurrent build, and removes only the former.
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pidAlive } from '../../host/exec.js';

export async function makeStagingDir(parent: string, prefix: string): Promise<string> {
  await mkdir(parent, { recursive: true });
  return mkdtemp(join(parent, `${prefix}${process.pid}-`));
}

/** Removes `<prefix><pid>-*` entries whose process is no longer alive; returns what it removed. */
export async function removeStaleStaging(parent: string, prefix: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1]);
    // Ours or alive: a concurrent build owns it (ours are removed by their own `finally`).
    if (Number.isInteger(pid) && pid > 0 && (pid === process.pid || pidAlive(pid))) continue;
    await rm(join(parent, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
