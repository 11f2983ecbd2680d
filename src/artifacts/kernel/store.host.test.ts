/**
 * Really pulls Debian's cloud kernel (banger's private apt, from deb.debian.org) into a
 * throwaway state dir, then checks what was stored. Slow on first run (~26 MB download).
 */
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KernelManifest } from '../../api/kernel.js';
import { run, which } from '../../host/exec.js';
import { silentLogger } from '../../host/logger.js';
import { KERNEL_FILES, type Paths, resolvePaths } from '../../store/paths.js';
import { S_IFCHR, S_IFMT, readCpio } from './cpio.js';
import { hashFile } from '../digest.js';
import { parseModinfo } from './modinfo.js';
import { GUEST_MODULES, isValidLoadOrder, normaliseModuleName } from './modorder.js';
import { importKernel } from './import.js';
import { pullDebianKernel } from './pull.js';
import { listKernelDirs, readKernelManifest, removeKernelDir, type KernelStoreResult } from './store.js';
import { checkVmlinux } from './vmlinux.js';
import { neededLibraries } from '../guesttools/elfdeps.js';

let root: string;
let paths: Paths;
let first: KernelStoreResult;
let firstMs: number;
const stages: string[] = [];
const canRun = async () => (await which('apt-get')) && (await which('dpkg-deb')) && (await which('lz4'));

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'banger-kstore-'));
  paths = resolvePaths({
    HOME: root,
    XDG_STATE_HOME: join(root, 'state'),
    XDG_CACHE_HOME: join(root, 'cache'),
    XDG_CONFIG_HOME: join(root, 'config'),
    XDG_RUNTIME_DIR: join(root, 'run'),
  });
  // Junk from an "interrupted" pull by a process that no longer exists.
  await mkdir(join(paths.stagingDir, 'kernel-999999999-dead', 'deb'), { recursive: true });
  await writeFile(join(paths.stagingDir, 'kernel-999999999-dead', 'deb', 'half.deb'), 'partial');
  if (!(await canRun())) return;
  const t0 = Date.now();
  first = await pullDebianKernel({ paths, progress: (stage) => stages.push(stage), log: silentLogger });
  firstMs = Date.now() - t0;
}, 900_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** An initrd's gzip'd archive, and the uncompressed one after it (the guest tools), if any. */
function splitInitramfs(buf: Buffer): { main: Buffer; raw: Buffer | null } {
  // Node's gunzip refuses trailing data: inflate the member's deflate stream and count what it used.
  if (buf[0] !== 0x1f || buf[1] !== 0x8b || buf[3] !== 0) throw new Error('not a plain gzip member');
  const r = inflateRawSync(buf.subarray(10), { info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
  let end = 10 + r.engine.bytesWritten + 8;
  while (end < buf.length && buf[end] === 0) end++;
  return { main: r.buffer, raw: end < buf.length ? buf.subarray(end) : null };
}

describe('pullDebianKernel (real apt)', () => {
  it('stores a complete kernel under kernels/<sha256> with a valid manifest', async (ctx) => {
    if (!first) ctx.skip();
    const { manifest, dir } = first;
    console.log(`first pull: ${firstMs} ms, stages ${stages.join(' > ')}, sha ${manifest.sha256.slice(0, 12)}`);
    expect(first.cached).toBe(false);
    expect(dir).toBe(paths.kernelDir(manifest.sha256));
    expect(KernelManifest.parse(await readKernelManifest(dir))).toEqual(manifest);
    expect(manifest).toMatchObject({ name: 'debian-cloud', distro: 'debian', vmlinuxPvh: true });
    expect(manifest.release).toMatch(/^\d+\.\d+\.\d+-\d+-cloud-amd64$/);
    expect(manifest.sourcePackage?.name).toBe(`linux-image-${manifest.release}`);
    expect(stages).toEqual(expect.arrayContaining(['resolve', 'download', 'extract', 'vmlinux', 'initramfs', 'hash', 'publish']));
    for (const file of [manifest.files.vmlinuz!, manifest.files.vmlinux, manifest.files.initrd]) {
      expect(await hashFile(join(dir, file.path))).toEqual({ sha256: file.sha256, size: file.size });
    }
    expect((await readdir(dir)).sort()).toEqual(['initrd.img', 'manifest.json', 'modules', 'vmlinux', 'vmlinuz']);
    expect(manifest.modulesDir).toBe(`modules/${manifest.release}`);
    expect((await stat(join(dir, manifest.modulesDir!, 'kernel'))).isDirectory()).toBe(true);
  });

  it('extracts an ELF64 x86-64 vmlinux with the PVH note', async (ctx) => {
    if (!first) ctx.skip();
    const vmlinux = await readFile(join(first.dir, KERNEL_FILES.vmlinux));
    const info = checkVmlinux(vmlinux);
    expect(info.pvh).toBe(true);
    expect(BigInt(info.entry)).toBeGreaterThanOrEqual(0x100000n);
    const readelf = await which('readelf');
    if (readelf) {
      const h = await run(['readelf', '-h', join(first.dir, KERNEL_FILES.vmlinux)]);
      expect(h.stdout).toMatch(/Class:\s+ELF64/);
      expect(h.stdout).toMatch(/Machine:\s+Advanced Micro Devices X86-64/);
    }
  });

  it('builds an initramfs with busybox, /init and the virtio modules in a valid load order', async (ctx) => {
    if (!first) ctx.skip();
    const records = readCpio(splitInitramfs(await readFile(join(first.dir, KERNEL_FILES.initrd))).main);
    const by = new Map(records.map((r) => [r.path, r]));
    console.log(`initrd: ${records.length} entries: ${records.map((r) => r.path).join(' ')}`);
    expect(by.get('init')!.data.toString()).toMatch(/^#!\/bin\/busybox sh\n/);
    expect(by.get('bin/busybox')!.data.length).toBeGreaterThan(500_000);
    expect(by.get('dev/console')!.mode & S_IFMT).toBe(S_IFCHR);

    const order = by.get('lib/modules/order')!.data.toString().trim().split('\n');
    expect(order).toEqual(first.manifest.initrdModules);
    expect(order).toContain('virtio-rng.ko');
    expect(new Set(order.map(normaliseModuleName))).toEqual(new Set(GUEST_MODULES));
    const depends: Record<string, string[]> = {};
    for (const file of order) {
      const info = parseModinfo(by.get(`lib/modules/${file}`)!.data, file);
      expect(info.name).toBe(normaliseModuleName(file));
      depends[info.name!] = info.depends;
    }
    expect(isValidLoadOrder(order, depends)).toBe(true);

    if (await which('cpio')) {
      const listed = await run(['cpio', '-it', '--quiet'], { input: splitInitramfs(await readFile(join(first.dir, KERNEL_FILES.initrd))).main });
      expect(listed.stdout.split('\n')).toEqual(expect.arrayContaining(['init', 'bin/busybox', 'lib/modules/virtio_blk.ko', 'lib/modules/order']));
    }
  });

  it('carries the guest tools uncompressed after the gzip part: sshd, dash, git, tar and every library they load', async (ctx) => {
    if (!first) ctx.skip();
    const { raw } = splitInitramfs(await readFile(join(first.dir, KERNEL_FILES.initrd)));
    expect(raw).not.toBeNull();
    const by = new Map(readCpio(raw!).map((r) => [r.path, r]));
    for (const p of ['banger/usr/sbin/sshd', 'banger/usr/bin/dash', 'banger/usr/bin/git', 'banger/usr/bin/tar', 'banger/lib64/ld-linux-x86-64.so.2', 'banger/lib/x86_64-linux-gnu/libc.so.6', 'banger/libexec/init']) {
      expect(by.has(p), p).toBe(true);
    }
    // Every DT_NEEDED of every bundled ELF is bundled too.
    const libs = new Set([...by.keys()].filter((p) => p.startsWith('banger/lib/x86_64-linux-gnu/')).map((p) => p.split('/').pop()));
    for (const [path, r] of by) {
      if (r.data.length < 4 || r.data.readUInt32BE(0) !== 0x7f454c46 || path === 'banger/bin/busybox') continue;
      for (const soname of neededLibraries(r.data, path).needed) expect(libs.has(soname), `${path} needs ${soname}`).toBe(true);
    }
  });

  it('left no staging behind, removed the stale junk, and cached the .deb', async (ctx) => {
    if (!first) ctx.skip();
    expect(await readdir(paths.stagingDir)).toEqual([]);
    const debs = await readdir(paths.debCacheDir);
    // The kernel's .deb, and the guest tools' (openssh-server, git, libc6, ...).
    expect(debs).toEqual(expect.arrayContaining([`${first.manifest.sourcePackage!.name}_${first.manifest.sourcePackage!.version}_amd64.deb`]));
    expect(debs.some((d) => d.startsWith('openssh-server_'))).toBe(true);
    expect(debs.every((d) => d.endsWith('.deb'))).toBe(true);
  });

  it('a second pull reuses the stored kernel quickly', async (ctx) => {
    if (!first) ctx.skip();
    const t0 = Date.now();
    const again = await pullDebianKernel({ paths, log: silentLogger });
    const ms = Date.now() - t0;
    console.log(`cached pull: ${ms} ms`);
    expect(again.cached).toBe(true);
    expect(again.manifest).toEqual(first.manifest);
    expect(ms).toBeLessThan(10_000);
    expect((await listKernelDirs(paths)).map((k) => k.manifest.sha256)).toEqual([first.manifest.sha256]);
  });

  it('rebuilds from the cached .deb when the kernel directory is gone', async (ctx) => {
    if (!first) ctx.skip();
    await removeKernelDir(paths, first.manifest.sha256);
    await expect(stat(first.dir)).rejects.toThrow();
    const t0 = Date.now();
    const rebuilt = await pullDebianKernel({ paths, log: silentLogger });
    console.log(`rebuild from cached .deb: ${Date.now() - t0} ms`);
    expect(rebuilt.cached).toBe(false);
    // Deterministic build: same content id.
    expect(rebuilt.manifest.sha256).toBe(first.manifest.sha256);
  });
});

describe('importKernel (with the pulled files)', () => {
  it('imports a bare vmlinux with banger’s module-less initramfs', async (ctx) => {
    if (!first) ctx.skip();
    const r = await importKernel({ paths, name: 'bare', vmlinux: join(first.dir, KERNEL_FILES.vmlinux), log: silentLogger });
    expect(r.cached).toBe(false);
    expect(r.manifest).toMatchObject({ name: 'bare', distro: 'custom', release: first.manifest.release, initrdModules: [], vmlinuxPvh: true });
    expect(r.manifest.files.vmlinuz).toBeUndefined();
    expect(r.manifest.sha256).not.toBe(first.manifest.sha256);
    await removeKernelDir(paths, r.manifest.sha256);
    await expect(stat(r.dir)).rejects.toThrow();
  });

  it('an import of the pulled files builds the same initramfs, without the guest tools', async (ctx) => {
    if (!first) ctx.skip();
    const r = await importKernel({
      paths,
      name: 'same',
      vmlinuz: join(first.dir, KERNEL_FILES.vmlinuz),
      modules: join(first.dir, first.manifest.modulesDir!),
      log: silentLogger,
    });
    expect(r.manifest.name).toBe('same');
    const pulled = splitInitramfs(await readFile(join(first.dir, KERNEL_FILES.initrd)));
    const imported = splitInitramfs(await readFile(join(r.dir, KERNEL_FILES.initrd)));
    expect(imported.raw).toBeNull();
    expect(imported.main.equals(pulled.main)).toBe(true);
    await removeKernelDir(paths, r.manifest.sha256);
  });

  it('refuses a modules tree for another release', async (ctx) => {
    if (!first) ctx.skip();
    const other = join(root, '9.9.9-other');
    await mkdir(other, { recursive: true });
    await expect(importKernel({ paths, name: 'x', vmlinuz: join(first.dir, KERNEL_FILES.vmlinuz), modules: other })).rejects.toThrow(
      /--modules is for kernel 9.9.9-other but the kernel is/,
    );
  });
});
