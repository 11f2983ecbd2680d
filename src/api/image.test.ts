import { describe, expect, it } from 'vitest';
import { Catalog, ImageBuildParams, ImageImportOciParams, ImageImportParams, ImageManifest, imageMethods, ImagePullParams, looksLikeOciReference } from './image.js';

const sha = 'ab'.repeat(32);
const manifest = {
  name: 'debian-bookworm',
  distro: 'debian-bookworm',
  arch: 'amd64',
  kernelRef: 'debian-cloud',
  sha256: sha,
  sizeBytes: 4 * 1024 ** 3,
  packages: [{ name: 'openssh-server', version: '1:9.2p1-2+deb12u7' }],
  builtAt: '2026-11-27T03:47:15.711Z',
  source: 'build',
};

describe('ImageManifest', () => {
  it('accepts a built image manifest and one without a kernel', () => {
    expect(ImageManifest.parse(manifest)).toEqual(manifest);
    expect(ImageManifest.parse({ ...manifest, kernelRef: null, source: 'import', packages: [] }).kernelRef).toBeNull();
  });

  it.each([
    ['an unknown field', { ...manifest, extra: 1 }],
    ['an upper-case sha256', { ...manifest, sha256: sha.toUpperCase() }],
    ['a short sha256', { ...manifest, sha256: 'abc' }],
    ['a bad name', { ...manifest, name: 'Debian Bookworm' }],
    ['a zero size', { ...manifest, sizeBytes: 0 }],
    ['a fractional size', { ...manifest, sizeBytes: 1.5 }],
    ['an unknown source', { ...manifest, source: 'download' }],
    ['a non-ISO date', { ...manifest, builtAt: 'yesterday' }],
    ['a package with an extra field', { ...manifest, packages: [{ name: 'a', version: '1', arch: 'amd64' }] }],
    ['a missing kernelRef', (({ kernelRef: _k, ...m }) => m)(manifest)],
  ])('rejects %s', (_label, value) => {
    expect(ImageManifest.safeParse(value).success).toBe(false);
  });
});

describe('Catalog', () => {
  const entry = { name: 'debian-bookworm', url: 'debian-bookworm.tar.zst', sha256: sha, sizeBytes: 210_000_000, kernel: { name: 'debian-cloud' }, description: 'default' };

  it('accepts an empty catalog and entries with or without a kernel', () => {
    expect(Catalog.parse({ version: 1, images: [] }).images).toEqual([]);
    expect(Catalog.parse({ version: 1, images: [entry, { ...entry, name: 'other', kernel: null }] }).images).toHaveLength(2);
  });

  it.each([
    ['version 2', { version: 2, images: [] }],
    ['duplicate names', { version: 1, images: [entry, entry] }],
    ['an entry without a sha256', { version: 1, images: [{ ...entry, sha256: undefined }] }],
    ['an unknown field', { version: 1, images: [], mirrors: [] }],
    ['a kernel given as a string', { version: 1, images: [{ ...entry, kernel: 'debian-cloud' }] }],
  ])('rejects %s', (_label, value) => {
    expect(Catalog.safeParse(value).success).toBe(false);
  });
});

describe('method params', () => {
  it('image.build defaults to the default image at 4G with no extra packages', () => {
    expect(ImageBuildParams.parse({})).toEqual({ name: 'debian-bookworm', include: [], size: '4G', variant: 'default' });
    expect(ImageBuildParams.parse({ variant: 'minimal' }).variant).toBe('minimal');
    expect(ImageBuildParams.safeParse({ variant: 'huge' }).success).toBe(false);
  });

  it('image.build validates package names and sizes', () => {
    expect(ImageBuildParams.parse({ include: ['python3-venv', 'g++'], size: '8GiB' }).include).toEqual(['python3-venv', 'g++']);
    expect(ImageBuildParams.safeParse({ include: ['bad name'] }).success).toBe(false);
    expect(ImageBuildParams.safeParse({ include: ['curl; rm -rf /'] }).success).toBe(false);
    expect(ImageBuildParams.safeParse({ size: 'huge' }).success).toBe(false);
  });

  it('image.import needs a name and a tar; image.pull a name or URL', () => {
    expect(ImageImportParams.safeParse({ name: 'mine' }).success).toBe(false);
    expect(ImageImportParams.parse({ name: 'mine', rootfsTar: '-' })).toEqual({ name: 'mine', rootfsTar: '-', force: false });
    expect(ImagePullParams.safeParse({ nameOrUrl: '' }).success).toBe(false);
  });

  it('lists every image method with params and result schemas', () => {
    expect(Object.keys(imageMethods).sort()).toEqual(['image.build', 'image.buildDockerfile', 'image.delete', 'image.export', 'image.import', 'image.importOci', 'image.list', 'image.pull', 'image.pullOci', 'image.show']);
    for (const m of Object.values(imageMethods)) {
      expect(typeof m.params.safeParse).toBe('function');
      expect(typeof m.result.safeParse).toBe('function');
    }
  });
});

describe('looksLikeOciReference (how `image pull X` picks OCI over the catalog)', () => {
  it.each([
    ['debian-bookworm', false],
    ['busybox', false],
    ['https://example.com/x.tar.zst', false],
    ['file:///tmp/x.tar.zst', false],
    ['busybox:latest', true],
    ['docker.io/library/python:3.12-slim', true],
    ['localhost:5000/x', true],
    [`img@sha256:${'a'.repeat(64)}`, true],
  ])('%s → %s', (s, oci) => {
    expect(looksLikeOciReference(s)).toBe(oci);
  });
});

describe('ImageImportOciParams', () => {
  it('takes exactly one of dockerArchive and ociLayout', () => {
    expect(ImageImportOciParams.safeParse({ name: 'x', dockerArchive: '/a.tar' }).success).toBe(true);
    expect(ImageImportOciParams.safeParse({ name: 'x', ociLayout: '/l' }).success).toBe(true);
    expect(ImageImportOciParams.safeParse({ name: 'x' }).success).toBe(false);
    expect(ImageImportOciParams.safeParse({ name: 'x', dockerArchive: '/a', ociLayout: '/l' }).success).toBe(false);
  });
});
