/**
 * jailer.spawn / jailer.clean for bangerd-root: the Firecracker jailer must start as root (chroot,
 * mknod, cgroups) and drops to the owner's uid/gid itself, so the helper runs it — never anything
 * else. The plan (which argv, which directory) is pure and table-tested; the runner gathers the facts
 * (realpath, stat of each binary and its parents) and spawns through host/exec. The uid/gid always
 * come from the helper's configuration, never from the caller.
 */
import { closeSync, constants, fchownSync, mkdirSync, openSync, realpathSync, statSync } from 'node:fs';
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
}

/** The argv to run as root, and the per-VM jail directory; throws bad_request naming what is wrong. */
export function planJailerSpawn(policy: JailerPolicy, p: JailerSpawn, facts: JailerFacts): { argv: string[]; vmDir: string } {
  checkChrootBase(policy.jailerBase, p.chrootBase);
  if (facts.chrootReal !== p.chrootBase) {
    throw new BangerError('bad_request', `jailer chroot base ${p.chrootBase} resolves to ${facts.chrootReal}; give its real path (no symlinks)`);
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

export function createJailerRunner(o: JailerPolicy & { log: Logger; serialDir: string }): JailerRunner {
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
      };
      const { argv } = planJailerSpawn(o, p, facts);
      // The console log lives in the helper's own directory (root-owned: no symlink to follow), owned by the owner.
      mkdirSync(o.serialDir, { recursive: true, mode: 0o755 });
      const serialLog = join(o.serialDir, `${p.vmId}.log`);
      const fd = openSync(serialLog, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
      let pid: number;
      try {
        fchownSync(fd, o.ownerUid, o.ownerGid);
        const proc = spawnProcess(argv, { detached: true, stdio: ['ignore', fd, fd] });
        if (proc.pid < 0) await proc.exit; // ENOENT and the like, as a BangerError
        pid = proc.pid;
      } finally {
        closeSync(fd);
      }
      o.log.info({ vmId: p.vmId, pid, argv }, 'jailer spawned');
      return { pid, argv, serialLog };
    },
    async clean(p) {
      checkChrootBase(o.jailerBase, p.chrootBase);
      const vmDir = join(p.chrootBase, basename(p.firecrackerBin), p.vmId);
      if (real(vmDir) !== vmDir) throw new BangerError('bad_request', `jail directory ${vmDir} is reached through a symlink; not removing it`);
      await rm(vmDir, { recursive: true, force: true });
      await rm(join(o.serialDir, `${p.vmId}.log`), { force: true });
    },
  };
}
