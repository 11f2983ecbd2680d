/**
 * jailer.spawn / jailer.clean for bangerd-root: the Firecracker jailer must start as root (chroot,
 * mknod, cgroups) and drops to the owner's uid/gid itself, so the helper runs it — never anything
 * else. The plan (which argv, which directory) is pure and table-tested; the runner gathers the facts
 * (realpath, stat of each binary and its parents) and spawns through host/exec. The uid/gid always
 * come from the helper's configuration, never from the caller.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, realpathSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { z } from 'zod';
import { BangerError } from '../api/errors.js';
import { spawnProcess } from '../host/exec.js';
import type { Logger } from '../host/logger.js';
import { jailerArgv } from '../hypervisor/firecracker/jailer.js';
import type { JailerCleanParams, JailerSpawnParams, JailerSpawnResult } from './api.js';
import { binaryProblems, checkChrootBase, type PathFacts } from './validate.js';

export type JailerSpawn = z.output<typeof JailerSpawnParams>;
export type JailerClean = z.output<typeof JailerCleanParams>;

export interface JailerRunner {
  spawn(p: JailerSpawn): Promise<z.output<typeof JailerSpawnResult>>;
  clean(p: JailerClean): Promise<void>;
}

export interface JailerPolicy {
  ownerUid: number;
  ownerGid: number;
  /** Chroot bases must be this directory or inside it. */
  jailerBase: string;
}

/** What the runner found on the host for one spawn request (binaries resolved, their stat chains). */
export interface JailerFacts {
  jailerReal: string;
  firecrackerReal: string;
  jailerChain: PathFacts[];
  firecrackerChain: PathFacts[];
  /** realpath of the chroot base (must equal it: no symlinks). */
  chrootReal: string;
  /** lstat of <base>/<exec name>, …/<id> and …/<id>/root where they exist: the jailer writes there as root. */
  jailDirs: Array<{ path: string; kind: 'dir' | 'symlink' | 'other' }>;
}

/** The directories under the chroot base the jailer will write into as root. */
export function jailDirPaths(chrootBase: string, firecrackerReal: string, vmId: string): string[] {
  const exec = join(chrootBase, basename(firecrackerReal));
  return [exec, join(exec, vmId), join(exec, vmId, 'root')];
}

/** The argv to run as root, and the per-VM jail directory; throws bad_request naming what is wrong. */
export function planJailerSpawn(policy: JailerPolicy, p: JailerSpawn, facts: JailerFacts): { argv: string[]; vmDir: string } {
  checkChrootBase(policy.jailerBase, p.chrootBase);
  if (facts.chrootReal !== p.chrootBase) {
    throw new BangerError('bad_request', `jailer chroot base ${p.chrootBase} resolves to ${facts.chrootReal}; give its real path (no symlinks)`);
  }
  for (const d of facts.jailDirs) {
    if (d.kind !== 'dir') throw new BangerError('bad_request', `jail directory ${d.path} is a ${d.kind === 'symlink' ? 'symlink' : 'non-directory'}; remove it (the jailer writes there as root)`);
  }
  const problems = [...binaryProblems('jailer', facts.jailerChain, policy.ownerGid), ...binaryProblems('firecracker', facts.firecrackerChain, policy.ownerGid)];
  if (problems.length > 0) {
    throw new BangerError('bad_request', `bangerd-root runs only root-owned binaries nobody else can change: ${problems.join('; ')}`);
  }
  const argv = jailerArgv({
    jailerBin: facts.jailerReal,
    firecrackerBin: facts.firecrackerReal,
    id: p.vmId,
    uid: policy.ownerUid,
    gid: policy.ownerGid,
    chrootBaseDir: p.chrootBase,
    netns: p.netns,
    firecrackerArgs: ['--api-sock', p.apiSock],
  });
  return { argv, vmDir: join(p.chrootBase, basename(facts.firecrackerReal), p.vmId) };
}

/** stat of `path` and of each directory above it, up to `/`. */
export function statChain(path: string): PathFacts[] {
  const out: PathFacts[] = [];
  for (let p = path; ; p = dirname(p)) {
    try {
      const s = statSync(p);
      out.push({ path: p, exists: true, uid: s.uid, gid: s.gid, mode: s.mode & 0o7777, isFile: s.isFile(), isDir: s.isDirectory() });
    } catch {
      out.push({ path: p, exists: false, uid: -1, gid: -1, mode: 0, isFile: false, isDir: false });
    }
    if (p === '/') return out;
  }
}

function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path; // reported as missing by the chain
  }
}

/** Why root must not write to this console log (null: fine): not a regular file, not the owner's, or hard-linked elsewhere. */
export function serialLogProblem(f: { isFile: boolean; uid: number; nlink: number }, ownerUid: number): string | null {
  if (!f.isFile) return 'not a regular file';
  if (f.uid !== ownerUid) return `owned by uid ${f.uid}, not the owner (uid ${ownerUid})`;
  if (f.nlink !== 1) return `has ${f.nlink} hard links`;
  return null;
}

export function createJailerRunner(o: JailerPolicy & { log: Logger }): JailerRunner {
  return {
    async spawn(p) {
      const jailerReal = real(p.jailerBin);
      const firecrackerReal = real(p.firecrackerBin);
      const facts: JailerFacts = {
        jailerReal,
        firecrackerReal,
        jailerChain: statChain(jailerReal),
        firecrackerChain: statChain(firecrackerReal),
        chrootReal: real(p.chrootBase),
        jailDirs: jailDirPaths(p.chrootBase, firecrackerReal, p.vmId).flatMap((path) => {
          try {
            const st = lstatSync(path);
            return [{ path, kind: st.isSymbolicLink() ? ('symlink' as const) : st.isDirectory() ? ('dir' as const) : ('other' as const) }];
          } catch {
            return [];
          }
        }),
      };
      const { argv } = planJailerSpawn(o, p, facts);
      // The console log is the owner's own file: opened without following a symlink, and used only if it is
      // a regular file of the owner's with one link — so root never writes anywhere the owner could not.
      let fd: number;
      try {
        fd = openSync(p.serialLog, constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW | constants.O_NOCTTY | constants.O_NONBLOCK);
      } catch (err) {
        throw new BangerError('bad_request', `cannot open the console log ${p.serialLog}: ${(err as NodeJS.ErrnoException).code}; it must be an existing file of the owner's, not a symlink`);
      }
      let pid: number;
      try {
        const st = fstatSync(fd);
        const problem = serialLogProblem({ isFile: st.isFile(), uid: st.uid, nlink: st.nlink }, o.ownerUid);
        if (problem) throw new BangerError('bad_request', `console log ${p.serialLog}: ${problem}`);
        const proc = spawnProcess(argv, { detached: true, stdio: ['ignore', fd, fd] });
        if (proc.pid < 0) await proc.exit; // ENOENT and the like, as a BangerError
        pid = proc.pid;
      } finally {
        closeSync(fd);
      }
      o.log.info({ vmId: p.vmId, pid, argv }, 'jailer spawned');
      return { pid, argv };
    },
    async clean(p) {
      checkChrootBase(o.jailerBase, p.chrootBase);
      const vmDir = join(p.chrootBase, basename(p.firecrackerBin), p.vmId);
      if (real(vmDir) !== vmDir) throw new BangerError('bad_request', `jail directory ${vmDir} is reached through a symlink; not removing it`);
      await rm(vmDir, { recursive: true, force: true });
    },
  };
}
