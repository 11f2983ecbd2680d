/**
 * The kernel store: content-addressed directories kernels/<sha256>/ holding vmlinuz, vmlinux,
 * initrd.img, the modules tree and manifest.json. Everything is built in a staging directory
 * and renamed into place in one step, so a kernel directory is either complete or absent; an
 * interrupted pull leaves only staging junk, which the next pull removes. The name -> sha256
 * registry lives in SQLite (the daemon's); these functions return manifests.
 */
import { copyFile, cp, mkdir, open, readFile, readdir, rename, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BangerError } from '../../api/errors.js';
import { DEFAULT_KERNEL_NAME, type KernelFiles, type KernelManifest } from '../../api/kernel.js';
import { type Progress, noProgress } from '../../api/progress.js';
import type { Logger } from '../../host/logger.js';
import { KERNEL_FILES, type Paths } from '../../store/paths.js';
import { privateApt } from '../apt/apt.js';
import { KERNEL_SOURCES, extractDeb, fetchDeb, resolveKernelPackage } from './debian.js';
import { hashFile } from '../digest.js';
import { buildInitramfs } from './initramfs.js';
import { INITRD_BUILDER } from './initscript.js';
import { kernelContentId, readKernelManifest, writeKernelManifest } from './manifest.js';
import { cleanStaleStaging, createStaging, type Staging } from '../staging.js';
import { checkVmlinux, extractVmlinux, parseBzImage, releaseFromBzImage, releaseFromVmlinux } from './vmlinux.js';

export { readKernelManifest } from './manifest.js';

const SHA256 = /^[0-9a-f]{64}$/;

export interface KernelStoreResult {
  manifest: KernelManifest;
  /** The kernel's directory (paths.kernelDir(manifest.sha256)). */
  dir: string;
  /** True when an existing kernel directory was reused and nothing was built. */
  cached: boolean;
}

interface CommonOptions {
  paths: Paths;
  progress?: Progress;
  log?: Logger;
  /** The static busybox for the initramfs. @default /bin/busybox */
  busyboxPath?: string;
}

export interface PullDebianKernelOptions extends CommonOptions {
  /** A name from KERNEL_SOURCES. @default debian-cloud */
  name?: string;
}

/**
 * Pulls the current Debian kernel for `name`: resolve the package, reuse a stored kernel built
 * from the same package version by the same initramfs builder, else download, unpack, extract
 * vmlinux, build the initramfs and publish.
 */
export async function pullDebianKernel(opts: PullDebianKernelOptions): Promise<KernelStoreResult> {
  const { paths } = opts;
  const progress = opts.progress ?? noProgress;
  const name = opts.name ?? DEFAULT_KERNEL_NAME;
  const source = KERNEL_SOURCES[name];
  if (!source) {
    throw new BangerError(
      'not_found',
      `no kernel source named "${name}" (known: ${Object.keys(KERNEL_SOURCES).join(', ')}); use \`banger kernel import\` for your own kernel`,
    );
  }
  progress('resolve', source.metaPackage);
  const apt = privateApt({ dir: paths.aptDir });
  const pkg = await resolveKernelPackage(apt, source.metaPackage, progress);
  const existing = (await listKernelDirs(paths)).find(
    (k) =>
      k.manifest.sourcePackage?.name === pkg.package && k.manifest.sourcePackage.version === pkg.version && k.manifest.initrdBuilder === INITRD_BUILDER,
  );
  if (existing) {
    opts.log?.info({ name, sha256: existing.manifest.sha256, package: pkg.package, version: pkg.version }, 'kernel already stored');
    return { dir: existing.dir, manifest: { ...existing.manifest, name }, cached: true };
  }

  const staging = await openStaging(paths);
  try {
    const deb = await fetchDeb(apt, pkg, paths.debCacheDir, progress);
    progress('extract', basename(deb.path));
    const unpacked = join(staging.dir, 'deb');
    await extractDeb(deb.path, unpacked);
    const release = await findRelease(unpacked, pkg.package);
    const modulesRoot = await firstExisting([join(unpacked, 'lib/modules', release), join(unpacked, 'usr/lib/modules', release)]);
    if (!modulesRoot) throw new BangerError('internal', `${pkg.package} has no /lib/modules/${release} tree`);

    const out = join(staging.dir, 'kernel');
    await mkdir(join(out, KERNEL_FILES.modules), { recursive: true });
    await rename(join(unpacked, 'boot', `vmlinuz-${release}`), join(out, KERNEL_FILES.vmlinuz));
    await rename(modulesRoot, join(out, KERNEL_FILES.modules, release));

    progress('vmlinux', 'extracting the uncompressed kernel');
    const info = await extractVmlinux(join(out, KERNEL_FILES.vmlinuz), join(out, KERNEL_FILES.vmlinux));
    progress('initramfs', 'busybox + virtio modules');
    const initrd = await buildInitramfs({
      outPath: join(out, KERNEL_FILES.initrd),
      modulesDir: join(out, KERNEL_FILES.modules, release),
      busyboxPath: opts.busyboxPath,
    });
    const result = await publish(paths, out, progress, {
      name,
      distro: 'debian',
      release,
      modulesDir: `${KERNEL_FILES.modules}/${release}`,
      initrdModules: initrd.modules,
      initrdBuilder: INITRD_BUILDER,
      vmlinuxPvh: info.pvh,
      sourcePackage: { name: pkg.package, version: pkg.version },
    });
    opts.log?.info({ name, sha256: result.manifest.sha256, package: pkg.package, version: pkg.version, cachedDeb: deb.cached }, 'kernel pulled');
    return result;
  } finally {
    await staging.remove();
  }
}

export interface ImportKernelOptions extends CommonOptions {
  name: string;
  /** bzImage; vmlinux is extracted from it when `vmlinux` is not given. */
  vmlinuz?: string;
  vmlinux?: string;
  /** A user initramfs, stored as is: it must implement banger's boot contract itself. */
  initrd?: string;
  /** A /lib/modules/<release> tree: kept for images, and its virtio modules go into banger's initramfs. */
  modules?: string;
}

/**
 * Stores a kernel the user built. Needs vmlinux or vmlinuz. Without `initrd`, banger builds its
 * own initramfs: with the virtio modules from `modules` when given, else with none, in which
 * case the kernel must have virtio (blk, net, mmio/pci) built in or the guest will not find its disk.
 */
export async function importKernel(opts: ImportKernelOptions): Promise<KernelStoreResult> {
  const { paths } = opts;
  const progress = opts.progress ?? noProgress;
  if (!opts.vmlinuz && !opts.vmlinux) throw new BangerError('bad_request', 'kernel import needs --vmlinuz or --vmlinux');
  for (const [flag, path] of Object.entries({ vmlinuz: opts.vmlinuz, vmlinux: opts.vmlinux, initrd: opts.initrd, modules: opts.modules })) {
    if (path !== undefined) await mustExist(path, `--${flag}`, flag === 'modules');
  }

  const staging = await openStaging(paths);
  try {
    const out = join(staging.dir, 'kernel');
    await mkdir(out, { recursive: true });
    let release: string | undefined;

    if (opts.vmlinuz) {
      const bz = await readFile(opts.vmlinuz);
      if (!parseBzImage(bz)) throw new BangerError('bad_request', `${opts.vmlinuz} is not an x86 bzImage; pass an ELF kernel as --vmlinux`);
      release = releaseFromBzImage(bz);
      await copyFile(opts.vmlinuz, join(out, KERNEL_FILES.vmlinuz));
    }
    progress('vmlinux', opts.vmlinux ? 'checking' : 'extracting the uncompressed kernel');
    let pvh: boolean;
    if (opts.vmlinux) {
      const buf = await readFile(opts.vmlinux);
      pvh = checkVmlinux(buf, opts.vmlinux).pvh;
      release ??= releaseFromVmlinux(buf);
      await copyFile(opts.vmlinux, join(out, KERNEL_FILES.vmlinux));
    } else {
      pvh = (await extractVmlinux(join(out, KERNEL_FILES.vmlinuz), join(out, KERNEL_FILES.vmlinux))).pvh;
    }

    let modulesDir: string | undefined;
    if (opts.modules) {
      const tree = resolve(opts.modules);
      const treeRelease = basename(tree);
      if (release && release !== treeRelease) {
        throw new BangerError('bad_request', `--modules is for kernel ${treeRelease} but the kernel is ${release}`);
      }
      release ??= treeRelease;
      modulesDir = `${KERNEL_FILES.modules}/${release}`;
      progress('modules', 'copying the modules tree');
      // build/ and source/ point into a kernel source tree on the build host: not ours to copy.
      await cp(tree, join(out, modulesDir), {
        recursive: true,
        verbatimSymlinks: true,
        filter: (src) => !(dirname(src) === tree && ['build', 'source'].includes(basename(src))),
      });
    }
    if (!release) throw new BangerError('bad_request', 'cannot tell the kernel release from the files given; pass --modules /lib/modules/<release>');

    let initrdModules: string[] | undefined;
    let initrdBuilder: string | undefined;
    if (opts.initrd) {
      await checkInitrd(opts.initrd);
      await copyFile(opts.initrd, join(out, KERNEL_FILES.initrd));
    } else {
      progress('initramfs', modulesDir ? 'busybox + virtio modules' : 'busybox (virtio built into the kernel)');
      const built = await buildInitramfs({
        outPath: join(out, KERNEL_FILES.initrd),
        modulesDir: modulesDir ? join(out, modulesDir) : undefined,
        busyboxPath: opts.busyboxPath,
      });
      initrdModules = built.modules;
      initrdBuilder = INITRD_BUILDER;
    }
    const result = await publish(paths, out, progress, {
      name: opts.name,
      distro: 'custom',
      release,
      modulesDir,
      initrdModules,
      initrdBuilder,
      vmlinuxPvh: pvh,
    });
    opts.log?.info({ name: opts.name, sha256: result.manifest.sha256, release }, 'kernel imported');
    return result;
  } finally {
    await staging.remove();
  }
}

/** Every complete kernel directory in the store with its manifest (unreadable ones are skipped). */
export async function listKernelDirs(paths: Paths): Promise<Array<{ dir: string; manifest: KernelManifest }>> {
  let names: string[];
  try {
    names = await readdir(paths.kernelsDir);
  } catch {
    return [];
  }
  const out: Array<{ dir: string; manifest: KernelManifest }> = [];
  for (const name of names.filter((n) => SHA256.test(n)).sort()) {
    const dir = paths.kernelDir(name);
    try {
      out.push({ dir, manifest: await readKernelManifest(dir) });
    } catch {
      // A directory without a valid manifest was not published by banger; leave it alone.
    }
  }
  return out;
}

/** Removes a kernel directory: renamed into staging first, so it vanishes in one step. */
export async function removeKernelDir(paths: Paths, sha: string): Promise<void> {
  if (!SHA256.test(sha)) throw new BangerError('bad_request', `not a kernel id: ${JSON.stringify(sha)}`);
  const staging = await openStaging(paths);
  try {
    await rename(paths.kernelDir(sha), join(staging.dir, 'removed'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  } finally {
    await staging.remove();
  }
}

// ---- helpers ----

async function openStaging(paths: Paths): Promise<Staging> {
  await cleanStaleStaging(paths, undefined, 'kernel');
  return createStaging(paths, 'work', 'kernel');
}

type ManifestBase = Omit<KernelManifest, 'sha256' | 'files' | 'importedAt'>;

/** Hashes the staged files, writes manifest.json and renames the directory into the store. */
async function publish(paths: Paths, out: string, progress: Progress, base: ManifestBase): Promise<KernelStoreResult> {
  progress('hash', 'sha256 of the kernel files');
  const file = async (key: keyof typeof KERNEL_FILES) => ({ path: KERNEL_FILES[key], ...(await hashFile(join(out, KERNEL_FILES[key]))) });
  const files: KernelFiles = {
    vmlinux: await file('vmlinux'),
    initrd: await file('initrd'),
    ...((await exists(join(out, KERNEL_FILES.vmlinuz))) ? { vmlinuz: await file('vmlinuz') } : {}),
  };
  const sha256 = kernelContentId(files);
  const manifest: KernelManifest = { ...base, sha256, files, importedAt: new Date().toISOString() };
  await writeKernelManifest(out, manifest);

  progress('publish', sha256.slice(0, 12));
  await mkdir(paths.kernelsDir, { recursive: true });
  const dir = paths.kernelDir(sha256);
  try {
    await rename(out, dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw err;
    // The same content is already stored (a concurrent or earlier build): use it. The directory's
    // own manifest describes its files; the name is the caller's (the registry maps names to ids).
    return { manifest: { ...(await readKernelManifest(dir)), name: base.name }, dir, cached: true };
  }
  return { manifest, dir, cached: false };
}

async function findRelease(unpacked: string, pkg: string): Promise<string> {
  const boot = await readdir(join(unpacked, 'boot')).catch(() => [] as string[]);
  const images = boot.filter((n) => n.startsWith('vmlinuz-'));
  if (images.length !== 1) throw new BangerError('internal', `${pkg} should hold exactly one /boot/vmlinuz-*, found ${images.length}`);
  return images[0].slice('vmlinuz-'.length);
}

async function firstExisting(candidates: string[]): Promise<string | undefined> {
  for (const c of candidates) if (await exists(c)) return c;
  return undefined;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The largest kernel file `kernel import` reads into memory (Debian's are ~8 MB; vmlinux ~60 MB). */
const MAX_KERNEL_FILE_BYTES = 512 * 1024 ** 2;

/** A directory, or a regular file of bounded size: a FIFO or /dev/zero would be read forever. */
async function mustExist(path: string, flag: string, dir: boolean): Promise<void> {
  const st = await stat(path).catch(() => null);
  if (!st) throw new BangerError('bad_request', `${flag} ${path}: no such file`);
  if (dir ? !st.isDirectory() : !st.isFile()) throw new BangerError('bad_request', `${flag} ${path}: expected a ${dir ? 'directory' : 'regular file'}`);
  if (!dir && st.size > MAX_KERNEL_FILE_BYTES) throw new BangerError('bad_request', `${flag} ${path}: ${st.size} bytes is more than a kernel file (at most ${MAX_KERNEL_FILE_BYTES})`);
}

/** A user initrd must at least look like one (cpio, or a compressor the kernel knows). */
async function checkInitrd(path: string): Promise<void> {
  const fh = await open(path, 'r');
  const head = Buffer.alloc(6);
  try {
    await fh.read(head, 0, 6, 0);
  } finally {
    await fh.close();
  }
  const known = [
    Buffer.from('070701', 'latin1'),
    Buffer.from([0x1f, 0x8b]),
    Buffer.from([0x28, 0xb5, 0x2f, 0xfd]),
    Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a]),
    Buffer.from([0x02, 0x21, 0x4c, 0x18]),
    Buffer.from('BZh', 'latin1'),
  ];
  if (!known.some((m) => head.subarray(0, m.length).equals(m))) {
    throw new BangerError('bad_request', `${path} does not look like an initramfs (newc cpio, optionally gzip/zstd/xz/lz4/bzip2 compressed)`);
  }
}
