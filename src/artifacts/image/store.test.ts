import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageManifest } from '../../api/image.js';
import { resolvePaths, type Paths } from '../../store/paths.js';
import { listImageManifests, publishImage, readImageManifest, readStoredImage, removeImageDir } from './store.js';

let base: string;
let paths: Paths;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'banger-store-'));
  paths = resolvePaths({ HOME: base, XDG_STATE_HOME: join(base, 'state'), XDG_RUNTIME_DIR: join(base, 'run') });
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

const manifest = (sha: string, name = 'img'): ImageManifest =>
  ImageManifest.parse({
    name,
    distro: 'debian-bookworm',
    arch: 'amd64',
    kernelRef: null,
    sha256: sha,
    sizeBytes: 4,
    packages: [],
    builtAt: '2026-01-01T00:00:00.000Z',
    source: 'import',
  });

async function staged(content: string): Promise<string> {
  await mkdir(paths.stagingDir, { recursive: true });
  const dir = join(paths.stagingDir, `image-test-${Math.random().toString(16).slice(2)}`);
  await mkdir(dir);
  await writeFile(join(dir, 'rootfs.ext4'), content);
  return dir;
}

describe('image store', () => {
  const a = 'a'.repeat(64);
  const b = 'b'.repeat(64);

  it('publishes by rename, lists, and keeps the stored copy when the same sha256 arrives again', async () => {
    const first = await publishImage(paths, await staged('one!'), manifest(a, 'first'));
    expect(first).toEqual({ dir: paths.imageDir(a), manifest: manifest(a, 'first'), existed: false });
    expect(await readImageManifest(first.dir)).toEqual(manifest(a, 'first'));

    const againDir = await staged('one!');
    const again = await publishImage(paths, againDir, manifest(a, 'second-name'));
    expect(again.existed).toBe(true);
    expect(again.manifest.name).toBe('first');
    expect((await readdir(paths.stagingDir)).includes(againDir.split('/').pop()!)).toBe(false);

    await publishImage(paths, await staged('two!'), manifest(b));
    const listed = await listImageManifests(paths);
    expect(listed.manifests.map((m) => m.sha256)).toEqual([a, b]);
    expect(listed.broken).toEqual([]);
  });

  it('reports broken directories instead of failing the listing', async () => {
    const c = 'c'.repeat(64);
    await mkdir(paths.imageDir(c));
    await writeFile(join(paths.imageDir(c), 'manifest.json'), JSON.stringify({ ...manifest(c), extra: true }));
    const d = 'd'.repeat(64);
    await mkdir(paths.imageDir(d));
    await writeFile(join(paths.imageDir(d), 'manifest.json'), JSON.stringify(manifest(a)));
    await mkdir(join(paths.imagesDir, 'not-an-image'));
    const listed = await listImageManifests(paths);
    expect(listed.manifests.map((m) => m.sha256)).toEqual([a, b]);
    expect(listed.broken.map((x) => x.dir)).toEqual([paths.imageDir(c), paths.imageDir(d)]);
    expect(listed.broken[0].error).toMatch(/invalid/);
    expect(listed.broken[1].error).toMatch(/does not match the directory name/);
    await removeImageDir(paths, c);
    await removeImageDir(paths, d);
  });

  it('removes an image directory and refuses ids that are not sha256', async () => {
    await removeImageDir(paths, b);
    await removeImageDir(paths, b); // already gone: fine
    expect((await listImageManifests(paths)).manifests.map((m) => m.sha256)).toEqual([a]);
    await expect(removeImageDir(paths, '../../etc')).rejects.toThrow(/not an image id/);
    await expect(readStoredImage(paths, 'b'.repeat(64))).rejects.toThrow(/missing/);
  });
});
