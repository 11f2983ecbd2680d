import { describe, expect, it } from 'vitest';
import { KernelImportParams, KernelListResult, KernelManifest, KernelPullParams, kernelMethods } from './kernel.js';

const SHA = 'a'.repeat(64);
const manifest = {
  name: 'debian-cloud',
  distro: 'debian',
  release: '6.1.0-56-cloud-amd64',
  sha256: SHA,
  files: {
    vmlinuz: { path: 'vmlinuz', sha256: 'b'.repeat(64), size: 14186432 },
    vmlinux: { path: 'vmlinux', sha256: 'c'.repeat(64), size: 53243444 },
    initrd: { path: 'initrd.img', sha256: 'd'.repeat(64), size: 1355931 },
  },
  modulesDir: 'modules/6.1.0-56-cloud-amd64',
  initrdModules: ['virtio_ring.ko', 'virtio.ko'],
  initrdBuilder: 'banger/0123456789ab',
  vmlinuxPvh: true,
  sourcePackage: { name: 'linux-image-6.1.0-56-cloud-amd64', version: '6.1.192-2' },
  importedAt: '2025-05-20T10:00:00.000Z',
};

describe('KernelManifest', () => {
  it('accepts a pulled Debian kernel', () => {
    expect(KernelManifest.parse(manifest)).toEqual(manifest);
  });

  it('accepts a minimal imported kernel (no vmlinuz, modules or package)', () => {
    const { vmlinuz: _v, ...files } = manifest.files;
    const minimal = { name: 'mine', distro: 'custom', release: '6.9.0', sha256: SHA, files, vmlinuxPvh: false, importedAt: manifest.importedAt };
    expect(KernelManifest.safeParse(minimal).success).toBe(true);
  });

  it.each([
    ['an unknown field', { ...manifest, extra: 1 }],
    ['an unknown file key', { ...manifest, files: { ...manifest.files, bzImage: manifest.files.vmlinux } }],
    ['a missing vmlinux', { ...manifest, files: { initrd: manifest.files.initrd } }],
    ['an upper-case sha256', { ...manifest, sha256: 'A'.repeat(64) }],
    ['an absolute file path', { ...manifest, files: { ...manifest.files, initrd: { ...manifest.files.initrd, path: '/etc/passwd' } } }],
    ['a ".." modules dir', { ...manifest, modulesDir: '../../etc' }],
    ['a negative size', { ...manifest, files: { ...manifest.files, initrd: { ...manifest.files.initrd, size: -1 } } }],
    ['another distro', { ...manifest, distro: 'arch' }],
    ['a non-ISO date', { ...manifest, importedAt: 'yesterday' }],
    ['a bad name', { ...manifest, name: 'Bad Name' }],
  ])('rejects %s', (_what, value) => {
    expect(KernelManifest.safeParse(value).success).toBe(false);
  });
});

describe('kernel method params', () => {
  it('pull defaults to debian-cloud', () => {
    expect(KernelPullParams.parse({})).toEqual({ name: 'debian-cloud' });
    expect(KernelPullParams.safeParse({ name: 'x', extra: true }).success).toBe(false);
  });

  it('import needs vmlinuz or vmlinux, as absolute paths', () => {
    expect(KernelImportParams.safeParse({ name: 'mine' }).success).toBe(false);
    expect(KernelImportParams.safeParse({ name: 'mine', vmlinuz: 'relative/bzImage' }).success).toBe(false);
    expect(KernelImportParams.parse({ name: 'mine', vmlinux: '/k/vmlinux', modules: '/lib/modules/6.9.0' })).toEqual({
      name: 'mine',
      vmlinux: '/k/vmlinux',
      modules: '/lib/modules/6.9.0',
    });
  });

  it('list result carries available kernels only when asked', () => {
    expect(KernelListResult.parse({ kernels: [manifest] }).available).toBeUndefined();
    expect(
      KernelListResult.parse({ kernels: [], available: [{ name: 'debian-cloud', package: 'linux-image-6.1.0-56-cloud-amd64', version: '6.1.192-2' }] })
        .available,
    ).toHaveLength(1);
  });

  it('names every method', () => {
    expect(Object.keys(kernelMethods).sort()).toEqual(['kernel.delete', 'kernel.import', 'kernel.list', 'kernel.pull', 'kernel.show']);
  });
});
