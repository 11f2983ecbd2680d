import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelManifest } from '../../api/kernel.js';
import { kernelContentId, readKernelManifest, writeKernelManifest } from './manifest.js';

const f = (c: string, path = 'x') => ({ path, sha256: c.repeat(64), size: 1 });

describe('kernelContentId', () => {
  it('is sha256 over sorted "key sha256" lines', () => {
    const files = { vmlinux: f('a', 'vmlinux'), initrd: f('b', 'initrd.img') };
    const expected = createHash('sha256').update(`initrd ${'b'.repeat(64)}\nvmlinux ${'a'.repeat(64)}\n`).digest('hex');
    expect(kernelContentId(files)).toBe(expected);
  });

  it('does not depend on key order, but does on which file has which hash', () => {
    const a = kernelContentId({ vmlinux: f('a'), initrd: f('b'), vmlinuz: f('c') });
    expect(kernelContentId({ vmlinuz: f('c'), initrd: f('b'), vmlinux: f('a') })).toBe(a);
    expect(kernelContentId({ vmlinux: f('b'), initrd: f('a'), vmlinuz: f('c') })).not.toBe(a);
    expect(kernelContentId({ vmlinux: f('a'), initrd: f('b') })).not.toBe(a);
  });
});

describe('manifest files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'banger-kmanifest-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const manifest: KernelManifest = {
    name: 'mine',
    distro: 'custom',
    release: '6.9.0',
    sha256: 'e'.repeat(64),
    files: { vmlinux: f('a', 'vmlinux'), initrd: f('b', 'initrd.img') },
    vmlinuxPvh: true,
    importedAt: new Date(0).toISOString(),
  };

  it('round-trips', async () => {
    await writeKernelManifest(dir, manifest);
    expect(await readKernelManifest(dir)).toEqual(manifest);
  });

  it('refuses to write an invalid manifest', async () => {
    await expect(writeKernelManifest(dir, { ...manifest, sha256: 'nope' })).rejects.toThrow();
  });

  it('explains a missing, corrupt or invalid manifest', async () => {
    await expect(readKernelManifest(join(dir, 'absent'))).rejects.toMatchObject({ code: 'not_found' });
    await writeFile(join(dir, 'manifest.json'), '{not json');
    await expect(readKernelManifest(dir)).rejects.toThrow(/not valid JSON/);
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, extra: 1 }));
    await expect(readKernelManifest(dir)).rejects.toThrow(/not a valid kernel manifest/);
  });
});
