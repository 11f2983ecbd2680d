import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../host/exec.js';
import { createOverlay, diskInfo, parseDiskInfo, resizeDisk } from './disk.js';

describe('parseDiskInfo', () => {
  it('reads the fields we use', () => {
    const info = parseDiskInfo(
      JSON.stringify({ 'virtual-size': 2147483648, filename: 'd.qcow2', format: 'qcow2', 'actual-size': 200704, 'backing-filename': '/i/rootfs.ext4', 'backing-filename-format': 'raw', 'dirty-flag': false }),
    );
    expect(info.format).toBe('qcow2');
    expect(info['virtual-size']).toBe(2147483648);
    expect(info['backing-filename']).toBe('/i/rootfs.ext4');
  });
  it('rejects non-JSON', () => {
    expect(() => parseDiskInfo('qemu-img: Could not open')).toThrow(/not JSON/);
  });
});

// Real qemu-img on small sparse files; no VM.
describe('overlays with qemu-img', () => {
  let dir: string;
  const MiB = 1024 * 1024;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'banger-disk-'));
    await run(['truncate', '-s', `${16 * MiB}`, join(dir, 'base.raw')]);
    await writeFile(join(dir, 'marker'), 'x');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates an overlay over a raw base with the base size', async () => {
    await createOverlay(join(dir, 'base.raw'), 'raw', join(dir, 'a.qcow2'));
    const info = await diskInfo(join(dir, 'a.qcow2'));
    expect(info.format).toBe('qcow2');
    expect(info['virtual-size']).toBe(16 * MiB);
    expect(info['backing-filename']).toBe(join(dir, 'base.raw'));
    expect(info['backing-filename-format']).toBe('raw');
  });

  it('grows on create, refuses to shrink, no-op at equal size', async () => {
    await createOverlay(join(dir, 'base.raw'), 'raw', join(dir, 'b.qcow2'), 64 * MiB);
    expect((await diskInfo(join(dir, 'b.qcow2')))['virtual-size']).toBe(64 * MiB);
    await resizeDisk(join(dir, 'b.qcow2'), 64 * MiB);
    await expect(resizeDisk(join(dir, 'b.qcow2'), 32 * MiB)).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/shrinking/) });
    await resizeDisk(join(dir, 'b.qcow2'), 96 * MiB);
    expect((await diskInfo(join(dir, 'b.qcow2')))['virtual-size']).toBe(96 * MiB);
  });

  it('chains an overlay over a qcow2 overlay (restore clones)', async () => {
    await createOverlay(join(dir, 'a.qcow2'), 'qcow2', join(dir, 'c.qcow2'));
    const info = await diskInfo(join(dir, 'c.qcow2'));
    expect(info['backing-filename-format']).toBe('qcow2');
    expect(info['virtual-size']).toBe(16 * MiB);
  });

  it('fails clearly when the base is missing', async () => {
    await expect(createOverlay(join(dir, 'nope.raw'), 'raw', join(dir, 'd.qcow2'))).rejects.toMatchObject({ message: expect.stringMatching(/nope\.raw/) });
  });
});
