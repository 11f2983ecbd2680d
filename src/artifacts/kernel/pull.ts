/**
 * `kernel pull`: the current Debian kernel for a KERNEL_SOURCES name, downloaded through banger's
 * private apt, unpacked, vmlinux extracted and banger's initramfs built (with the guest tools that
 * boot roots lacking an init or sshd), then published into the store.
 * A kernel built from the same package version by the same initramfs builder is reused instead.
 */
import { mkdir, readdir, rename } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { BangerError } from '../../api/errors.js';
import { DEFAULT_KERNEL_NAME } from '../../api/kernel.js';
import { noProgress } from '../../api/progress.js';
import { KERNEL_FILES } from '../../store/paths.js';
import { privateApt } from '../apt/apt.js';
import { KERNEL_SOURCES, extractDeb, fetchDeb, resolveKernelPackage } from './debian.js';
import { gatherGuestTools } from '../guesttools/fetch.js';
import { buildInitramfs, readStaticBusybox } from './initramfs.js';
import { INITRD_BUILDER } from './initscript.js';
import { exists, listKernelDirs, openStaging, publish, type KernelStoreOptions, type KernelStoreResult } from './store.js';
import { extractVmlinux } from './vmlinux.js';

export interface PullDebianKernelOptions extends KernelStoreOptions {
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
    progress('guest-tools', 'sshd, git and tar for roots without their own (OCI images)');
    const tools = await gatherGuestTools({
      apt,
      debCacheDir: paths.debCacheDir,
      workDir: join(staging.dir, 'tools'),
      busybox: await readStaticBusybox(opts.busyboxPath),
      progress,
    });
    progress('initramfs', 'busybox + virtio modules + guest tools');
    const initrd = await buildInitramfs({
      outPath: join(out, KERNEL_FILES.initrd),
      modulesDir: join(out, KERNEL_FILES.modules, release),
      busyboxPath: opts.busyboxPath,
      tools,
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
