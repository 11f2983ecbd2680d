/**
 * Kernels and images by name: the SQLite registry over the content-addressed directories that
 * artifacts/ writes. Builds on first use, shares concurrent builds of one name, refuses to
 * delete what a VM or image still uses. `access` is what the VM service sees of it (a boot's
 * kernel and image paths); the daemon's artifact handlers call the rest.
 */
import type { z } from 'zod';
import { DEFAULT_IMAGE_SIZE, ImageManifest, type ImageRuntimeConfig, type ImageVariant } from '../api/image.js';
import { KernelManifest, type KernelImportParams, type KernelListResult } from '../api/kernel.js';
import { BangerError, notFound } from '../api/errors.js';
import type { DoctorCheck } from '../api/daemon.js';
import type { Progress } from '../api/progress.js';
import type { Deleted } from '../api/results.js';
import { buildImage } from './image/build.js';
import { exportBundle } from './image/bundle.js';
import { loadCatalog, pullImage } from './image/catalog.js';
import { checkRootless } from './image/rootless.js';
import { removeImageDir } from './image/store.js';
import { privateApt } from './apt/apt.js';
import { artifactDoctorRows } from './doctor.js';
import { listAvailable } from './kernel/debian.js';
import { importKernel } from './kernel/import.js';
import { pullDebianKernel } from './kernel/pull.js';
import { removeKernelDir } from './kernel/store.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../host/logger.js';
import { SingleFlight } from '../host/locks.js';
import { createArtifactStore } from '../store/artifacts.js';
import type { Db } from '../store/db.js';
import type { Paths } from '../store/paths.js';
import type { VmStore } from '../store/vms.js';

/** The files one VM boots from. */
export interface ResolvedBoot {
  /** `runtime`: the image's OCI runtime config (Env, WorkingDir, User, Entrypoint, Cmd), or null. */
  image: { name: string; rootfsPath: string; kernelName: string; runtime: ImageRuntimeConfig | null };
  kernel: { name: string; vmlinuxPath: string; initrdPath: string };
}

/** What the VM and snapshot services ask of the artifact registry. */
export interface ArtifactAccess {
  /** The named image (or the default, built on first use) and its kernel (pulled on first use). */
  resolve(imageName: string | undefined, progress: Progress): Promise<ResolvedBoot>;
  /** Paths for an existing VM's image and kernel. */
  pathsFor(imageName: string, kernelName: string): ResolvedBoot;
}

export interface ArtifactService {
  access: ArtifactAccess;
  pullKernel(name: string, progress: Progress): Promise<KernelManifest>;
  listKernels(available: boolean): Promise<KernelListResult>;
  showKernel(name: string): KernelManifest;
  deleteKernel(name: string): Promise<Deleted>;
  importKernel(p: z.output<typeof KernelImportParams>, progress: Progress): Promise<KernelManifest>;
  /** `image pull`: a catalog name or bundle URL, its kernel pulled by name when the catalog names one. */
  pullImage(nameOrUrl: string, progress: Progress): Promise<ImageManifest>;
  /** `image export`: the image as a bundle written to `output`. */
  exportImage(name: string, output: string, progress: Progress): ReturnType<typeof exportBundle>;
  buildImage(name: string, include: string[], size: string, progress: Progress, variant?: ImageVariant): Promise<ImageManifest>;
  listImages(): { images: ImageManifest[] };
  showImage(name: string): ImageManifest;
  getImage(name: string): ImageManifest | null;
  deleteImage(name: string): Promise<Deleted>;
  /** Registers under `name` (the stored manifest may carry another name for the same content). */
  registerImage(name: string, m: ImageManifest, kernelName: string | null): ImageManifest;
  /**
   * Before an import reads a byte: a taken name is a `conflict` unless `replace`; replacing is
   * refused while a VM or snapshot uses the image (the delete guards).
   */
  checkImportTarget(name: string, replace: boolean): void;
  /**
   * Registers an imported image under `name`, checking the name again (another import may have
   * taken it meanwhile). A replaced image's directory is removed when nothing else refers to it;
   * on refusal the new, unregistered directory is removed.
   */
  registerImport(name: string, m: ImageManifest, replace: boolean): Promise<ImageManifest>;
  doctor(): Promise<DoctorCheck[]>;
}

export interface ArtifactServiceDeps {
  paths: Paths;
  db: Db;
  config: Config;
  /** Which VMs use an image or kernel (deletes are refused while any does). */
  vmStore: Pick<VmStore, 'usersOf'>;
  /** Runs first on every image or kernel delete: snapshots made from it refuse it, warm ones are dropped (snapshots/registry.ts). */
  beforeDelete(kind: 'image' | 'kernel', name: string): void;
  log: Logger;
}

export function createArtifactService(deps: ArtifactServiceDeps): ArtifactService {
  const { paths, db, config, vmStore, log } = deps;
  const kernels = createArtifactStore(db, 'kernels', (x) => KernelManifest.parse(x));
  const images = createArtifactStore(db, 'images', (x) => ImageManifest.parse(x));
  const flights = new SingleFlight();

  const registerKernel = (name: string, m: KernelManifest) => {
    const manifest = { ...m, name };
    kernels.put(name, m.sha256, manifest);
    return manifest;
  };
  const registerImage = (name: string, m: ImageManifest, kernelName: string | null) => {
    const manifest = { ...m, name };
    images.put(name, m.sha256, manifest, { kernel_name: kernelName });
    return manifest;
  };

  function pullKernel(name: string, progress: Progress): Promise<KernelManifest> {
    return flights.run(`kernel:${name}`, async () => {
      progress('kernel', `pulling kernel ${name}`);
      const r = await pullDebianKernel({ paths, name, progress, log });
      return registerKernel(name, r.manifest);
    });
  }

  function build(name: string, include: string[], size: string, progress: Progress, variant: ImageVariant = 'default'): Promise<ImageManifest> {
    return flights.run(`image:${name}`, async () => {
      // Before the kernel pull: a user without subordinate ids learns the fix at once.
      if (process.getuid?.() !== 0) await checkRootless('build');
      const kernelName = config.defaultKernelName;
      const kernel = kernels.get(kernelName)?.manifest ?? (await pullKernel(kernelName, progress));
      const modulesDir = kernel.modulesDir ? `${paths.kernelDir(kernel.sha256)}/${kernel.modulesDir}` : null;
      const r = await buildImage({ paths, name, include, size, variant, modulesDir, kernelRef: kernelName, progress, log });
      return registerImage(name, r.manifest, kernelName);
    });
  }

  async function ensureKernel(name: string, progress: Progress): Promise<KernelManifest> {
    const row = kernels.get(name);
    if (row) return row.manifest;
    if (name !== config.defaultKernelName) throw notFound('kernel', name, 'run `banger kernel list`, or `banger kernel pull`');
    progress('kernel', 'pulling the default kernel — first run only');
    return pullKernel(name, progress);
  }

  function bootPaths(image: ImageManifest, imageName: string, kernelName: string, kernel: KernelManifest): ResolvedBoot {
    const kdir = paths.kernelDir(kernel.sha256);
    return {
      image: { name: imageName, rootfsPath: paths.imageFile(image.sha256, 'rootfs'), kernelName, runtime: image.runtime ?? null },
      kernel: { name: kernelName, vmlinuxPath: `${kdir}/${kernel.files.vmlinux.path}`, initrdPath: `${kdir}/${kernel.files.initrd.path}` },
    };
  }

  const kernelOfImage = (imageName: string): string =>
    (db.prepare<[string], { kernel_name: string | null }>('SELECT kernel_name FROM images WHERE name = ?').get(imageName)?.kernel_name ??
      config.defaultKernelName);

  const access: ArtifactAccess = {
    async resolve(imageName, progress) {
      const name = imageName ?? config.defaultImageName;
      let image = images.get(name)?.manifest;
      if (!image) {
        if (name !== config.defaultImageName) {
          throw notFound('image', name, 'run `banger image list`; build one with `banger image build --name NAME` or `banger image pull NAME`');
        }
        progress('image', 'building default image — first run only');
        image = await build(name, [], DEFAULT_IMAGE_SIZE, progress);
      }
      const kernelName = kernelOfImage(name);
      const kernel = await ensureKernel(kernelName, progress);
      return bootPaths(image, name, kernelName, kernel);
    },
    pathsFor(imageName, kernelName) {
      const image = images.get(imageName)?.manifest;
      const kernel = kernels.get(kernelName)?.manifest;
      if (!image || !kernel) {
        throw new BangerError('conflict', `the VM's ${image ? `kernel "${kernelName}"` : `image "${imageName}"`} is no longer registered; re-create the VM`);
      }
      return bootPaths(image, imageName, kernelName, kernel);
    },
  };

  function refuseIfUsed(what: 'image' | 'kernel', name: string): void {
    const vmsUsing = vmStore.usersOf(what === 'image' ? 'image_name' : 'kernel_name', name);
    const imagesUsing =
      what === 'kernel'
        ? db.prepare<[string], { name: string }>('SELECT name FROM images WHERE kernel_name = ? ORDER BY name').all(name).map((r) => r.name)
        : [];
    const users = [...vmsUsing.map((n) => `VM ${n}`), ...imagesUsing.map((n) => `image ${n}`)];
    if (users.length) throw new BangerError('conflict', `${what} "${name}" is used by ${users.join(', ')}; delete those first`, { details: { users } });
  }

  function checkImportTarget(name: string, replace: boolean): void {
    const old = images.get(name);
    if (!old) return;
    if (!replace) throw nameTaken(name, old.manifest);
    deps.beforeDelete('image', name);
    refuseIfUsed('image', name);
  }

  async function registerImport(name: string, m: ImageManifest, replace: boolean): Promise<ImageManifest> {
    const old = images.get(name);
    try {
      checkImportTarget(name, replace);
    } catch (err) {
      if (images.refCount(m.sha256) === 0) await removeImageDir(paths, m.sha256);
      throw err;
    }
    const manifest = registerImage(name, m, m.kernelRef);
    if (old && old.sha256 !== m.sha256 && images.refCount(old.sha256) === 0) {
      await removeImageDir(paths, old.sha256);
      log.info({ name, old: old.sha256, new: m.sha256 }, 'image replaced');
    }
    return manifest;
  }

  function doctor(): Promise<DoctorCheck[]> {
    const img = images.get(config.defaultImageName);
    const k = kernels.get(config.defaultKernelName);
    return artifactDoctorRows({
      imageName: config.defaultImageName,
      image: img ? { sha256: img.sha256 } : null,
      kernelName: config.defaultKernelName,
      kernel: k ? { release: k.manifest.release } : null,
    });
  }

  return {
    access,
    pullKernel,
    async listKernels(available) {
      return {
        kernels: kernels.list().map((r) => r.manifest),
        ...(available ? { available: await listAvailable(privateApt({ dir: paths.aptDir })) } : {}),
      };
    },
    showKernel(name) {
      const r = kernels.get(name);
      if (!r) throw notFound('kernel', name, 'run `banger kernel list`');
      return r.manifest;
    },
    async deleteKernel(name) {
      deps.beforeDelete('kernel', name);
      const r = kernels.get(name);
      if (!r) throw notFound('kernel', name, 'run `banger kernel list`');
      refuseIfUsed('kernel', name);
      kernels.remove(name);
      if (kernels.refCount(r.sha256) === 0) await removeKernelDir(paths, r.sha256);
      return { name, id: r.sha256 };
    },
    async importKernel(p, progress) {
      const r = await importKernel({ paths, ...p, progress, log });
      return registerKernel(p.name, r.manifest);
    },
    buildImage: build,
    async pullImage(nameOrUrl, progress) {
      const catalog = await loadCatalog(config.catalog);
      let kernelName: string | null = null;
      const r = await pullImage({
        paths,
        nameOrUrl,
        catalog,
        pullKernel: async (name) => {
          kernelName = name;
          return pullKernel(name, progress);
        },
        progress,
        log,
      });
      return registerImage(r.manifest.name, r.manifest, kernelName ?? r.manifest.kernelRef);
    },
    exportImage(name, output, progress) {
      const m = images.get(name)?.manifest;
      if (!m) throw notFound('image', name, 'run `banger image list`');
      return exportBundle({ dir: paths.imageDir(m.sha256), output, progress, log });
    },
    listImages: () => ({ images: images.list().map((r) => r.manifest) }),
    showImage(name) {
      const r = images.get(name);
      if (!r) throw notFound('image', name, 'run `banger image list`');
      return r.manifest;
    },
    getImage: (name) => images.get(name)?.manifest ?? null,
    async deleteImage(name) {
      deps.beforeDelete('image', name);
      const r = images.get(name);
      if (!r) throw notFound('image', name, 'run `banger image list`');
      refuseIfUsed('image', name);
      images.remove(name);
      if (images.refCount(r.sha256) === 0) await removeImageDir(paths, r.sha256);
      return { name, id: r.sha256 };
    },
    registerImage,
    checkImportTarget,
    registerImport,
    doctor,
  };
}

/** The refusal for an import over a registered name. */
export function nameTaken(name: string, existing: ImageManifest): BangerError {
  return new BangerError(
    'conflict',
    `image "${name}" already exists (${existing.sha256.slice(0, 12)}, ${existing.source}); import under another name, delete it first (\`banger image delete ${name}\`), or pass --force to replace it`,
    { details: { name } },
  );
}
