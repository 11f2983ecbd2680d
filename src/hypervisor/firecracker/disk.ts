/**
 * Per-VM raw disks for Firecracker (it has no qcow2). Cheapest first:
 *   1. reflink copy (`cp --reflink=always`): instant on XFS/Btrfs, fails elsewhere;
 *   2. device-mapper snapshot (root + dmsetup + losetup + /dev/mapper/control): the image stays
 *      read-only, the VM's writes go to a sparse `<dest>.cow`, `<dest>` is a symlink to the dm device;
 *   3. sparse full copy (`cp --sparse=always`), with a warning: it costs time and disk per VM.
 * `planRawDisk` is the pure part (which strategies apply on this host); `prepareRawDisk` tries them in order.
 */
import { createHash } from 'node:crypto';
import { access, lstat, readlink, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { BangerError } from '../../api/errors.js';
import { run, which } from '../../host/exec.js';
import type { Logger } from '../../host/logger.js';
import type { DiskManager } from '../driver.js';

export interface DiskHostCaps {
  isRoot: boolean;
  hasDmsetup: boolean;
  hasLosetup: boolean;
  /** /dev/mapper/control exists (the device-mapper driver is present). */
  hasDmControl: boolean;
}

export type RawDiskStrategy = 'reflink' | 'dm-snapshot' | 'sparse-copy';

export interface RawDiskPlan {
  strategies: RawDiskStrategy[];
  /** Why device-mapper is not in the plan, when it is not. */
  dmSkipped?: string;
}

/** Which strategies to try, in order. Reflink support is only known by trying, so it is always first. */
export function planRawDisk(caps: DiskHostCaps): RawDiskPlan {
  const missing = [
    !caps.isRoot && 'not running as root',
    !caps.hasDmsetup && 'dmsetup is not installed',
    !caps.hasLosetup && 'losetup is not installed',
    !caps.hasDmControl && 'no /dev/mapper/control (device-mapper driver missing)',
  ].filter((x): x is string => typeof x === 'string');
  if (missing.length === 0) return { strategies: ['reflink', 'dm-snapshot', 'sparse-copy'] };
  return { strategies: ['reflink', 'sparse-copy'], dmSkipped: missing.join(', ') };
}

export interface RawDisk {
  /** What Firecracker opens (always `dest`). */
  path: string;
  strategy: RawDiskStrategy | 'existing';
  /** Undo what must not outlive the VM process (the dm device). The disk contents stay. */
  release(): Promise<void>;
}

/** Device-mapper name for a VM disk: stable per dest, short, and recognisable as banger's. */
export function dmName(dest: string): string {
  return `banger-${createHash('sha256').update(dest).digest('hex').slice(0, 16)}`;
}

export const cowPath = (dest: string) => `${dest}.cow`;

export async function probeDiskCaps(): Promise<DiskHostCaps> {
  const [dmsetup, losetup, control] = await Promise.all([
    which('dmsetup'),
    which('losetup'),
    access('/dev/mapper/control').then(
      () => true,
      () => false,
    ),
  ]);
  return { isRoot: process.getuid?.() === 0, hasDmsetup: dmsetup !== null, hasLosetup: losetup !== null, hasDmControl: control };
}

const noRelease = async () => {};

/**
 * Makes `dest` a writable raw disk whose initial contents are `base`. Idempotent per VM: an existing
 * regular file at `dest` is the VM's disk from an earlier call and is returned untouched; an existing
 * `<dest>.cow` re-assembles the device-mapper snapshot over it.
 */
export async function prepareRawDisk(base: string, dest: string, opts: { log: Logger; caps?: DiskHostCaps }): Promise<RawDisk> {
  const log = opts.log;
  const existing = await lstat(dest).catch(() => null);
  if (existing?.isFile()) return { path: dest, strategy: 'existing', release: noRelease };
  const hasCow = await access(cowPath(dest)).then(
    () => true,
    () => false,
  );
  const caps = opts.caps ?? (await probeDiskCaps());
  const plan = planRawDisk(caps);
  if (hasCow) {
    if (!plan.strategies.includes('dm-snapshot')) {
      throw new BangerError('unavailable', `${dest} lives in a device-mapper snapshot (${cowPath(dest)}) but device-mapper is unusable here: ${plan.dmSkipped}`);
    }
    return assembleDmSnapshot(base, dest, log, false);
  }
  const failures: string[] = [];
  for (const strategy of plan.strategies) {
    try {
      if (strategy === 'reflink') {
        await run(['cp', '--reflink=always', '--', base, dest]);
        log.debug({ base, dest }, 'raw disk: reflink copy');
        return { path: dest, strategy, release: noRelease };
      }
      if (strategy === 'dm-snapshot') return await assembleDmSnapshot(base, dest, log, true);
      const size = (await stat(base)).size;
      log.warn(
        { base, dest, sizeMiB: Math.round(size / 2 ** 20), tried: failures },
        `no reflink${plan.dmSkipped ? ` and no device-mapper (${plan.dmSkipped})` : ''}: making a full sparse copy of the image for this VM; ` +
          'every Firecracker VM costs a copy of its image in time and disk. A reflink filesystem (XFS, Btrfs) under the state directory, or root with dmsetup, avoids it',
      );
      await run(['cp', '--sparse=always', '--', base, dest]);
      return { path: dest, strategy, release: noRelease };
    } catch (err) {
      failures.push(`${strategy}: ${(err as Error).message.split('\n')[0]}`);
      await rm(dest, { force: true });
    }
  }
  throw new BangerError('internal', `could not make a raw disk ${dest} from ${base}: ${failures.join('; ')}`);
}

/**
 * origin = read-only loop over the image, COW store = loop over a sparse file, snapshot target `P 8`
 * (persistent, 4 KiB chunks). Every step is undone in reverse if a later one fails.
 */
async function assembleDmSnapshot(base: string, dest: string, log: Logger, fresh: boolean): Promise<RawDisk> {
  const name = dmName(dest);
  const cow = cowPath(dest);
  const undo: Array<() => Promise<unknown>> = [];
  try {
    const size = (await stat(base)).size;
    if (size % 512 !== 0) throw new BangerError('bad_request', `${base} is ${size} bytes, not a whole number of 512-byte sectors`);
    if (fresh) {
      await writeFile(cow, '', { flag: 'wx', mode: 0o600 });
      undo.push(() => rm(cow, { force: true }));
      await truncate(cow, size);
    }
    const loops: string[] = [];
    const detachLoops = async () => {
      for (const loop of loops.splice(0)) await run(['losetup', '-d', loop], { check: false });
    };
    undo.push(detachLoops);
    loops.push((await run(['losetup', '--find', '--show', '--read-only', '--', base])).stdout.trim());
    loops.push((await run(['losetup', '--find', '--show', '--', cow])).stdout.trim());
    const [origin, store] = loops;
    await run(['dmsetup', 'create', name, '--table', `0 ${size / 512} snapshot ${origin} ${store} P 8`]);
    undo.push(() => run(['dmsetup', 'remove', name], { check: false }));
    // Detaching a busy loop device marks it autoclear: it goes away when dm lets go of it.
    await detachLoops();
    await rm(dest, { force: true });
    await symlink(`/dev/mapper/${name}`, dest);
    log.debug({ base, dest, name }, 'raw disk: device-mapper snapshot');
    return { path: dest, strategy: 'dm-snapshot', release: () => releaseRawDisk(dest) };
  } catch (err) {
    for (const step of undo.reverse()) await step().catch(() => {});
    throw err;
  }
}

/** Removes the device-mapper device behind `dest`, if any (safe to call for any strategy, and twice). */
export async function releaseRawDisk(dest: string): Promise<void> {
  const target = await readlink(dest).catch(() => null);
  if (!target?.startsWith('/dev/mapper/banger-')) return;
  const name = target.slice('/dev/mapper/'.length);
  const r = await run(['dmsetup', 'remove', name], { check: false });
  if (r.code !== 0 && !/No such device|not found/i.test(r.stderr)) {
    throw new BangerError('internal', `dmsetup remove ${name} failed: ${r.stderr.trim()}; is the VM still running?`);
  }
}

/** Raw per-VM disks for Firecracker: reflink, dm snapshot or sparse copy (see prepareRawDisk), grown sparsely. */
export const rawDisks: DiskManager = {
  async createDisk(base, dest, sizeBytes, log) {
    await prepareRawDisk(base, dest, { log });
    if ((await stat(dest)).size < sizeBytes) await truncate(dest, sizeBytes);
  },
  async growDisk(disk, sizeBytes) {
    const cur = (await stat(disk)).size;
    if (sizeBytes < cur) throw new BangerError('bad_request', `disk ${disk} is ${cur} bytes; disks only grow`);
    await truncate(disk, sizeBytes);
  },
  async usedBytes(disk) {
    try {
      return (await stat(disk)).blocks * 512;
    } catch {
      return null;
    }
  },
};
