/**
 * Staging directories for half-made kernels and images. Each carries an owner file (pid + process start time);
 * a directory whose owner is gone was left by an interrupted build and is removed at the next
 * attempt. Removal first detaches any mount left below the directory, so a crashed bootstrap can
 * never make `rm -r` walk into a bind-mounted /dev or /proc of the host.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BangerError } from '../api/errors.js';
import { run, which } from '../host/exec.js';
import type { Logger } from '../host/logger.js';
import { parseStat, readStatAsync } from '../host/procstat.js';
import type { Paths } from '../store/paths.js';

/** Which artifact a staging directory belongs to: its name starts with `<family>-`. */
export type StagingFamily = 'image' | 'kernel';
const OWNER_FILE = 'owner';

export interface Staging {
  /** The staging directory (under paths.stagingDir, so a rename into images/ is atomic). */
  readonly dir: string;
  /** Removes the directory and everything in it, and the linked directories (idempotent). */
  remove(): Promise<void>;
  /** Records a directory outside staging that lives and dies with it (removed with it, also by a later stale cleanup). */
  link(outside: string): Promise<void>;
}

const LINKED_FILE = 'linked';

/** The start time (clock ticks since boot) from /proc/PID/stat; null if unreadable. */
export const parseProcStartTime = (stat: string): string | null => parseStat(stat)?.startTime ?? null;

/** Mount points listed in /proc/self/mountinfo (octal escapes decoded). */
export function parseMountPoints(mountinfo: string): string[] {
  return mountinfo
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
}

async function ownerToken(pid: number): Promise<string | null> {
  const start = (await readStatAsync(pid))?.startTime ?? null;
  return start === null ? null : `${pid} ${start}`;
}

/** Detaches every mount at or below `dir` (deepest first), then removes the tree. */
export async function removeTree(dir: string): Promise<void> {
  const mounts = parseMountPoints(await readFile('/proc/self/mountinfo', 'utf8').catch(() => ''))
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await run(['umount', '--lazy', m], { check: false });
  if (mounts.length > 0) {
    const left = parseMountPoints(await readFile('/proc/self/mountinfo', 'utf8')).filter((m) => m === dir || m.startsWith(`${dir}/`));
    if (left.length > 0) {
      throw new BangerError('internal', `cannot remove ${dir}: ${left[0]} is still mounted; unmount it and retry`);
    }
  }
  await rm(dir, { recursive: true, force: true }).catch(async (err: NodeJS.ErrnoException) => {
    if ((err.code !== 'EACCES' && err.code !== 'EPERM') || process.getuid?.() === 0 || (await which('mmdebstrap')) === null) throw err;
    // Files a rootless bootstrap left owned by the user's subordinate ids: remove them from inside
    // the same user namespace mapping (mmdebstrap's own helper), then what is left as ourselves.
    await run(['mmdebstrap', '--unshare-helper', 'rm', '-rf', '--', dir], { check: false });
    await rm(dir, { recursive: true, force: true });
  });
}

/** Removes the directories a staging directory linked (see Staging.link). */
async function removeLinked(dir: string): Promise<void> {
  const text = await readFile(join(dir, LINKED_FILE), 'utf8').catch(() => '');
  for (const p of text.split('\n').filter((l) => l.startsWith('/'))) await removeTree(p);
}

/** A staging directory `<prefix>-<kind>-<random>` in `parent`, with its owner recorded. */
export async function createStagingIn(parent: string, prefix: string, kind: string): Promise<Staging> {
  await mkdir(parent, { recursive: true });
  const id = `${kind}-${randomUUID().slice(0, 8)}`;
  const dir = join(parent, `${prefix}-${id}`);
  // Made under another name and renamed, so a concurrent cleanup never sees it without its owner.
  const tmp = join(parent, `.new-${id}`);
  await mkdir(tmp, { mode: 0o700 });
  await writeFile(join(tmp, OWNER_FILE), `${(await ownerToken(process.pid)) ?? process.pid}\n`);
  await rename(tmp, dir);
  let removed = false;
  return {
    dir,
    async remove() {
      if (removed) return;
      await removeLinked(dir);
      await removeTree(dir);
      removed = true;
    },
    async link(outside) {
      await writeFile(join(dir, LINKED_FILE), `${outside}\n`, { flag: 'a' });
    },
  };
}

/** Removes `<prefix>-*` directories in `parent` whose owning process is gone. Returns what was removed. */
export async function cleanStaleStagingIn(parent: string, prefix: string, log?: Logger): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names.filter((n) => n.startsWith(`${prefix}-`))) {
    const dir = join(parent, name);
    const owner = (await readFile(join(dir, OWNER_FILE), 'utf8').catch(() => '')).trim();
    const pid = Number(owner.split(' ')[0]);
    if (Number.isInteger(pid) && pid > 0 && owner !== '' && (await ownerToken(pid)) === owner) continue;
    log?.info({ dir }, 'removing stale staging');
    await removeLinked(dir);
    await removeTree(dir);
    removed.push(dir);
  }
  return removed;
}

/** A staging directory for one family's artifact under paths.stagingDir (same file system as the store). */
export const createStaging = (paths: Paths, kind: string, family: StagingFamily = 'image'): Promise<Staging> =>
  createStagingIn(paths.stagingDir, family, kind);

/** Removes one family's staging directories whose owning process is gone. */
export const cleanStaleStaging = (paths: Paths, log?: Logger, family: StagingFamily = 'image'): Promise<string[]> =>
  cleanStaleStagingIn(paths.stagingDir, family, log);
