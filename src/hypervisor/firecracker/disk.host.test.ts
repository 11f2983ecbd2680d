import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../host/exec.js';
import { cowPath, dmName, planRawDisk, prepareRawDisk, releaseRawDisk, type DiskHostCaps } from './disk.js';

const all: DiskHostCaps = { isRoot: true, hasDmsetup: true, hasLosetup: true, hasDmControl: true };

describe('planRawDisk', () => {
  it.each([
    [all, ['reflink', 'dm-snapshot', 'sparse-copy'], undefined],
    [{ ...all, isRoot: false }, ['reflink', 'sparse-copy'], 'not running as root'],
    [{ ...all, hasDmsetup: false }, ['reflink', 'sparse-copy'], 'dmsetup is not installed'],
    [{ ...all, hasLosetup: false }, ['reflink', 'sparse-copy'], 'losetup is not installed'],
    [{ ...all, hasDmControl: false }, ['reflink', 'sparse-copy'], 'no /dev/mapper/control (device-mapper driver missing)'],
    [{ isRoot: false, hasDmsetup: false, hasLosetup: true, hasDmControl: true }, ['reflink', 'sparse-copy'], 'not running as root, dmsetup is not installed'],
  ] as const)('%j', (caps, strategies, why) => {
    const plan = planRawDisk(caps);
    expect(plan.strategies).toEqual(strategies);
    expect(plan.dmSkipped).toBe(why);
  });

  it('names dm devices stably and distinctly per disk', () => {
    expect(dmName('/a/disk.raw')).toBe(dmName('/a/disk.raw'));
    expect(dmName('/a/disk.raw')).not.toBe(dmName('/b/disk.raw'));
    expect(dmName('/a/disk.raw')).toMatch(/^banger-[0-9a-f]{16}$/);
  });
});

/** A logger that keeps warn-level records so tests can assert on them. */
function recordingLogger() {
  const records: Array<{ level: number; msg: string; tried?: string[] }> = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void records.push(JSON.parse(line)) });
  return { log, records };
}

describe('prepareRawDisk on this host (no reflink, no device-mapper)', () => {
  let dir: string;
  let base: string;
  const size = 8 * 2 ** 20;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fc-disk-'));
    base = join(dir, 'rootfs.ext4');
    // Sparse 8 MiB image with data at both ends.
    const fh = await open(base, 'w');
    await fh.write(Buffer.from('HEAD'), 0, 4, 0);
    await fh.write(Buffer.from('TAIL'), 0, 4, size - 4);
    await fh.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('falls back to a sparse copy, warns about the cost, and keeps holes', async () => {
    const { log, records } = recordingLogger();
    const dest = join(dir, 'vm1.raw');
    const disk = await prepareRawDisk(base, dest, { log, caps: { isRoot: false, hasDmsetup: false, hasLosetup: false, hasDmControl: false } });
    expect(disk.strategy).toBe('sparse-copy');
    expect(disk.path).toBe(dest);
    expect(readFileSync(dest).equals(readFileSync(base))).toBe(true);
    expect(statSync(dest).blocks * 512).toBeLessThan(size / 2);
    const warn = records.find((r) => r.level === 40);
    expect(warn?.msg).toMatch(/full sparse copy/);
    expect(warn?.msg).toMatch(/not running as root/);
  });

  it('returns an existing disk untouched (the VM keeps its writes across starts)', async () => {
    const dest = join(dir, 'vm2.raw');
    writeFileSync(dest, 'guest wrote this');
    const disk = await prepareRawDisk(base, dest, { log: recordingLogger().log, caps: all });
    expect(disk.strategy).toBe('existing');
    expect(readFileSync(dest, 'utf8')).toBe('guest wrote this');
  });

  it('cleans up after a device-mapper attempt that fails, then copies', async () => {
    // Claim every capability: on this host dmsetup create fails (no /dev/mapper/control), so this
    // exercises the undo path for real: the COW file and any loop device must be gone afterwards.
    const dest = join(dir, 'vm3.raw');
    const { log, records } = recordingLogger();
    const disk = await prepareRawDisk(base, dest, { log, caps: all });
    expect(disk.strategy).toBe('sparse-copy');
    const tried = records.find((r) => r.level === 40)?.tried ?? [];
    expect(tried.map((t) => t.split(':')[0])).toEqual(['reflink', 'dm-snapshot']);
    expect(existsSync(cowPath(dest))).toBe(false);
    const loops = await run(['losetup', '-j', base], { check: false });
    expect(loops.stdout.trim()).toBe('');
    const cowLoops = await run(['losetup', '-j', cowPath(dest)], { check: false });
    expect(cowLoops.stdout.trim()).toBe('');
    await releaseRawDisk(dest); // a plain file: nothing to release, must not throw
  });

  it('refuses to silently replace a device-mapper disk it cannot re-assemble', async () => {
    const dest = join(dir, 'vm4.raw');
    writeFileSync(cowPath(dest), '');
    const err = await prepareRawDisk(base, dest, { log: recordingLogger().log, caps: { ...all, isRoot: false } }).catch((e) => e);
    expect(err.code).toBe('unavailable');
    expect(err.message).toMatch(/device-mapper is unusable here: not running as root/);
    expect(existsSync(dest)).toBe(false);
  });
});
