/**
 * `kernel import`: stores a kernel the user built (vmlinuz and/or vmlinux, optional initrd and modules
 * tree), checking each input first (regular file of bounded size, bzImage/ELF, initramfs magic), then
 * publishes it into the store.
 */
import { copyFile, cp, mkdir, open, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BangerError } from '../../api/errors.js';
import { noProgress } from '../../api/progress.js';
import { KERNEL_FILES } from '../../store/paths.js';
import { buildInitramfs } from './initramfs.js';
import { INITRD_BUILDER } from './initscript.js';
import { openStaging, publish, type KernelStoreOptions, type KernelStoreResult } from './store.js';
import { checkVmlinux, extractVmlinux, parseBzImage, releaseFromBzImage, releaseFromVmlinux } from './vmlinux.js';

export interface ImportKernelOptions extends KernelStoreOptions {
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
