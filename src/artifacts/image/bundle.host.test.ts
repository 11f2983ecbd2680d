import { copyFile, mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import * as tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BangerError } from '../../api/errors.js';
import { ImageManifest } from '../../api/image.js';
import { run, which } from '../../host/exec.js';
import { resolvePaths, type Paths } from '../../store/paths.js';
import { exportBundle, importBundle } from './bundle.js';
import { loadCatalog, pullImage } from './catalog.js';
import { sha256File } from '../digest.js';
import { makeExt4 } from './ext4.js';
import { publishImage, type PublishedImage } from './store.js';

const missing = (await which('zstd')) === null ? 'zstd' : (await which('mkfs.ext4')) === null ? 'mkfs.ext4' : null;
if (missing) console.log(`bundle.host.test skipped: ${missing} is not installed`);

const pathsAt = (dir: string): Paths =>
  resolvePaths({ HOME: dir, XDG_STATE_HOME: join(dir, 'state'), XDG_CACHE_HOME: join(dir, 'cache'), XDG_RUNTIME_DIR: join(dir, 'run') });

describe.skipIf(missing !== null)('image bundles: export, pull over HTTP from 127.0.0.1, tampering', () => {
  let base: string;
  let srcPaths: Paths;
  let image: PublishedImage;
  let served: string;
  let server: Server;
  let origin: string;
  const requests: string[] = [];

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'banger-bundle-'));
    srcPaths = pathsAt(join(base, 'src'));
    served = join(base, 'www');
    await mkdir(served);

    // A small image made without root: a tree, mkfs.ext4 -d, a manifest, publish.
    const tree = join(base, 'tree');
    await mkdir(join(tree, 'etc'), { recursive: true });
    await writeFile(join(tree, 'etc/hello'), 'hello from the bundle test\n');
    await writeFile(join(tree, 'data.bin'), Buffer.alloc(3 * 1024 * 1024, 0x5a));
    await mkdir(srcPaths.stagingDir, { recursive: true });
    const staged = join(srcPaths.stagingDir, 'image-test-staged');
    await mkdir(staged);
    await makeExt4({ sourceDir: tree, output: join(staged, 'rootfs.ext4'), sizeBytes: 64 * 1024 * 1024 });
    const sha256 = await sha256File(join(staged, 'rootfs.ext4'));
    image = await publishImage(
      srcPaths,
      staged,
      ImageManifest.parse({
        name: 'mini',
        distro: 'debian-bookworm',
        arch: 'amd64',
        kernelRef: 'debian-cloud',
        sha256,
        sizeBytes: 64 * 1024 * 1024,
        packages: [{ name: 'bash', version: '5.2.15-2+b7' }],
        builtAt: new Date().toISOString(),
        source: 'build',
      }),
    );

    server = createServer(async (req, res) => {
      requests.push(req.url ?? '');
      try {
        const body = await readFile(join(served, basename(req.url ?? '')));
        res.writeHead(200, { 'content-length': body.length }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await rm(base, { recursive: true, force: true });
  });

  const imageDirs = async (p: Paths) => (await readdir(p.imagesDir).catch(() => [] as string[])).sort();
  const stagingLeft = async (p: Paths) => (await readdir(p.stagingDir).catch(() => [] as string[])).filter((n) => n.startsWith('image-'));

  async function writeCatalog(entries: { name: string; file: string; kernel?: string | null }[]) {
    const images = [];
    for (const e of entries) {
      const f = join(served, e.file);
      images.push({
        name: e.name,
        url: e.file, // relative: resolved against the catalog URL
        sha256: await sha256File(f),
        sizeBytes: (await stat(f)).size,
        kernel: e.kernel === undefined ? { name: 'debian-cloud' } : e.kernel === null ? null : { name: e.kernel },
        description: `test image ${e.name}`,
      });
    }
    await writeFile(join(served, 'catalog.json'), JSON.stringify({ version: 1, images }));
    return loadCatalog(`${origin}/catalog.json`);
  }

  it('exports a bundle much smaller than the sparse image', async () => {
    const out = join(served, 'mini.tar.zst');
    const t0 = Date.now();
    const r = await exportBundle({ dir: image.dir, output: out });
    console.log(`export of a 64M image: ${Date.now() - t0} ms, bundle ${r.sizeBytes} bytes`);
    expect(r.sha256).toBe(await sha256File(out));
    expect(r.sizeBytes).toBe((await stat(out)).size);
    expect(r.sizeBytes).toBeLessThan(2 * 1024 * 1024);
    const names = (await run(['tar', '--zstd', '-tf', out])).stdout.trim().split('\n');
    expect(names).toEqual(['manifest.json', 'rootfs.ext4']);
    expect((await readdir(served)).filter((n) => n.includes('.partial'))).toEqual([]);
  });

  it('pulls by catalog name over HTTP: verified, sparse, kernel pulled, source "pull"', async () => {
    const dst = pathsAt(join(base, 'dst'));
    const catalog = await writeCatalog([{ name: 'mini', file: 'mini.tar.zst' }]);
    const kernels: string[] = [];
    const stages: string[] = [];
    const r = await pullImage({ paths: dst, nameOrUrl: 'mini', catalog, pullKernel: async (k) => void kernels.push(k), progress: (s) => stages.push(s) });
    expect(kernels).toEqual(['debian-cloud']);
    expect(r.existed).toBe(false);
    expect(r.manifest).toEqual({ ...image.manifest, source: 'pull' });
    expect(await readdir(r.dir)).toEqual(['manifest.json', 'rootfs.ext4'].sort());
    const rootfs = dst.imageFile(r.manifest.sha256, 'rootfs');
    expect(await sha256File(rootfs)).toBe(image.manifest.sha256);
    const st = await stat(rootfs);
    expect(st.size).toBe(64 * 1024 * 1024);
    expect(st.blocks * 512).toBeLessThan(16 * 1024 * 1024); // holes kept
    expect(stages).toEqual(expect.arrayContaining(['download', 'verify', 'unpack', 'kernel', 'publish']));
    expect(requests).toContain('/mini.tar.zst');
    expect(await stagingLeft(dst)).toEqual([]);
  });

  it('refuses a bundle whose sha256 differs from the catalog: nothing registered, no kernel pulled', async () => {
    const dst = pathsAt(join(base, 'dst-tampered'));
    await copyFile(join(served, 'mini.tar.zst'), join(served, 'tampered.tar.zst'));
    const catalog = await writeCatalog([{ name: 'tampered', file: 'tampered.tar.zst' }]);
    // Tamper after the catalog was written.
    const fh = await open(join(served, 'tampered.tar.zst'), 'r+');
    const size = (await fh.stat()).size;
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, Math.floor(size / 2));
    b[0] ^= 0xff;
    await fh.write(b, 0, 1, Math.floor(size / 2));
    await fh.close();

    const kernels: string[] = [];
    const err = await pullImage({ paths: dst, nameOrUrl: 'tampered', catalog, pullKernel: async (k) => void kernels.push(k) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BangerError);
    expect((err as BangerError).code).toBe('bad_request');
    expect((err as BangerError).message).toMatch(/sha256 mismatch for bundle http:\/\/127\.0\.0\.1:\d+\/tampered\.tar\.zst: .*nothing was registered/);
    expect(kernels).toEqual([]);
    expect(await imageDirs(dst)).toEqual([]);
    expect(await stagingLeft(dst)).toEqual([]);
  });

  it('refuses a bundle whose rootfs does not match its own manifest, even with a matching catalog sha256', async () => {
    // A doctored copy of the image: same manifest, one byte of the rootfs changed.
    const doctored = join(base, 'doctored');
    await mkdir(doctored);
    await copyFile(join(image.dir, 'manifest.json'), join(doctored, 'manifest.json'));
    await run(['cp', '--sparse=always', join(image.dir, 'rootfs.ext4'), join(doctored, 'rootfs.ext4')]);
    const fh = await open(join(doctored, 'rootfs.ext4'), 'r+');
    await fh.write(Buffer.from('X'), 0, 1, 5 * 1024 * 1024);
    await fh.close();
    await exportBundle({ dir: doctored, output: join(served, 'doctored.tar.zst') });

    const dst = pathsAt(join(base, 'dst-doctored'));
    const catalog = await writeCatalog([{ name: 'doctored', file: 'doctored.tar.zst' }]);
    const kernels: string[] = [];
    const err = await pullImage({ paths: dst, nameOrUrl: 'doctored', catalog, pullKernel: async (k) => void kernels.push(k) }).catch((e: unknown) => e);
    expect((err as BangerError).message).toMatch(/sha256 mismatch for rootfs\.ext4 in .*nothing was registered/);
    expect(kernels).toEqual([]);
    expect(await imageDirs(dst)).toEqual([]);
    expect(await stagingLeft(dst)).toEqual([]);
  });

  it('registers nothing when the kernel pull fails', async () => {
    const dst = pathsAt(join(base, 'dst-nokernel'));
    const catalog = await writeCatalog([{ name: 'mini', file: 'mini.tar.zst' }]);
    const err = await pullImage({
      paths: dst,
      nameOrUrl: 'mini',
      catalog,
      pullKernel: async () => {
        throw new BangerError('unavailable', 'kernel mirror unreachable');
      },
    }).catch((e: unknown) => e);
    expect((err as BangerError).message).toBe('kernel mirror unreachable');
    expect(await imageDirs(dst)).toEqual([]);
    expect(await stagingLeft(dst)).toEqual([]);
  });

  it('pulls a bare URL (checked against its manifest) and reuses the stored copy the second time', async () => {
    const dst = pathsAt(join(base, 'dst-url'));
    const catalog = await writeCatalog([]);
    const kernels: string[] = [];
    const first = await pullImage({ paths: dst, nameOrUrl: `${origin}/mini.tar.zst`, catalog, pullKernel: async (k) => void kernels.push(k) });
    expect(first.manifest.name).toBe('mini');
    expect(first.manifest.kernelRef).toBe('debian-cloud');
    const second = await pullImage({ paths: dst, nameOrUrl: `${origin}/mini.tar.zst`, catalog, pullKernel: async (k) => void kernels.push(k) });
    expect(second.existed).toBe(true);
    expect(second.dir).toBe(first.dir);
    expect(kernels).toEqual(['debian-cloud', 'debian-cloud']);
    expect(await imageDirs(dst)).toEqual([first.manifest.sha256]);
  });

  it('says "not found" for a name the catalog does not list, naming the ones it does', async () => {
    const catalog = await writeCatalog([{ name: 'mini', file: 'mini.tar.zst' }]);
    const err = await pullImage({ paths: pathsAt(join(base, 'dst-nf')), nameOrUrl: 'nope', catalog, pullKernel: async () => {} }).catch((e: unknown) => e);
    expect((err as BangerError).code).toBe('not_found');
    expect((err as BangerError).message).toMatch(/image "nope" not found; the catalog lists mini/);
  });

  it('refuses a .tar.zst that is not a bundle, naming the stray entry', async () => {
    const pack = tar.pack();
    pack.entry({ name: 'manifest.json' }, JSON.stringify(image.manifest));
    pack.entry({ name: '../../etc/cron.d/evil' }, 'x');
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    const plain = join(base, 'evil.tar');
    await writeFile(plain, Buffer.concat(chunks));
    await run(['zstd', '-q', '-f', plain, '-o', `${plain}.zst`]);
    const dst = pathsAt(join(base, 'dst-evil'));
    const err = await importBundle({ paths: dst, file: `${plain}.zst`, source: 'import' }).catch((e: unknown) => e);
    expect((err as BangerError).message).toMatch(/is not a banger image bundle: entry "\.\.\/\.\.\/etc\/cron\.d\/evil" is unexpected/);
    expect(await imageDirs(dst)).toEqual([]);
    expect(await stagingLeft(dst)).toEqual([]);
  });
});
