/**
 * Kernels and images by name: the SQLite registry over the content-addressed directories that
 * artifacts/ writes. Builds on first use, shares concurrent builds of one name, refuses to
 * delete what a VM or image still uses.
 */
import { DEFAULT_IMAGE_SIZE, ImageManifest } from '../api/image.js';
import { KernelManifest } from '../api/kernel.js';
import { BangerError, notFound } from '../api/errors.js';
import type { DoctorCheck } from '../api/daemon.js';
import type { Progress } from '../api/progress.js';
import { buildImage } from '../artifacts/image/build.js';
import { checkRootless, rootlessFacts, rootlessProblems } from '../artifacts/image/rootless.js';
import { removeImageDir } from '../artifacts/image/store.js';
import { privateApt } from '../artifacts/apt/apt.js';
import { listAvailable } from '../artifacts/kernel/debian.js';
import { importKernel, pullDebianKernel, removeKernelDir } from '../artifacts/kernel/store.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../host/logger.js';
import { createArtifactStore } from '../store/artifacts.js';
import type { Db } from '../store/db.js';
import type { Paths } from '../store/paths.js';
import { createVmStore } from '../store/vms.js';
import type { ArtifactAccess, ResolvedBoot } from '../vms/service.js';
import type { Handlers } from './dispatch.js';
import { SingleFlight, type Locks } from '../host/locks.js';
import { imageExtraHandlers, nameTaken } from './image-handlers.js';

export interface ArtifactServiceDeps {
  paths: Paths;
  db: Db;
  config: Config;
  locks: Locks;
  log: Logger;
}

type ArtifactHandlers = Pick<
  Handlers,
  'kernel.pull' | 'kernel.list' | 'kernel.show' | 'kernel.delete' | 'kernel.import' | 'image.build' | 'image.list' | 'image.show' | 'image.delete' | 'image.import' | 'image.export' | 'image.pull'
>;

export function createArtifactService(deps: ArtifactServiceDeps) {
  const { paths, db, config, log } = deps;
  const kernels = createArtifactStore(db, 'kernels', (x) => KernelManifest.parse(x));
  const images = createArtifactStore(db, 'images', (x) => ImageManifest.parse(x));
  const vmStore = createVmStore(db);
  const flights = new SingleFlight();

  /** Registers under `name` (the stored manifest may carry another name for the same content). */
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

  function build(name: string, include: string[], size: string, progress: Progress): Promise<ImageManifest> {
    return flights.run(`image:${name}`, async () => {
      // Before the kernel pull: a user without subordinate ids learns the fix at once.
      if (process.getuid?.() !== 0) await checkRootless('build');
      const kernelName = config.defaultKernelName;
      const kernel = kernels.get(kernelName)?.manifest ?? (await pullKernel(kernelName, progress));
      const modulesDir = kernel.modulesDir ? `${paths.kernelDir(kernel.sha256)}/${kernel.modulesDir}` : null;
      const r = await buildImage({ paths, name, include, size, modulesDir, kernelRef: kernelName, progress, log });
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
      image: { name: imageName, rootfsPath: paths.imageFile(image.sha256, 'rootfs'), kernelName },
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

  /** image.import's registration: a taken name is refused or, with `replace`, replaced without leaking the old directory. */
  async function registerImport(name: string, m: ImageManifest, replace: boolean): Promise<ImageManifest> {
    const old = images.get(name);
    try {
      if (old && !replace) throw nameTaken(name, old.manifest); // registered by another import meanwhile
      if (old) refuseIfUsed('image', name);
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

  const handlers: ArtifactHandlers = {
    'kernel.pull': (p, ctx) => pullKernel(p.name, ctx.progress),
    'kernel.list': async (p) => ({
      kernels: kernels.list().map((r) => r.manifest),
      ...(p.available ? { available: await listAvailable(privateApt({ dir: paths.aptDir })) } : {}),
    }),
    'kernel.show': (p) => {
      const r = kernels.get(p.name);
      if (!r) throw notFound('kernel', p.name, 'run `banger kernel list`');
      return r.manifest;
    },
    'kernel.delete': async (p) => {
      const r = kernels.get(p.name);
      if (!r) throw notFound('kernel', p.name, 'run `banger kernel list`');
      refuseIfUsed('kernel', p.name);
      kernels.remove(p.name);
      if (kernels.refCount(r.sha256) === 0) await removeKernelDir(paths, r.sha256);
      return { name: p.name, sha256: r.sha256 };
    },
    'kernel.import': async (p, ctx) => {
      const r = await importKernel({ paths, ...p, progress: ctx.progress, log });
      return registerKernel(p.name, r.manifest);
    },
    'image.build': (p, ctx) => build(p.name, p.include, p.size, ctx.progress),
    'image.list': () => ({ images: images.list().map((r) => r.manifest) }),
    'image.show': (p) => {
      const r = images.get(p.name);
      if (!r) throw notFound('image', p.name, 'run `banger image list`');
      return r.manifest;
    },
    'image.delete': async (p) => {
      const r = images.get(p.name);
      if (!r) throw notFound('image', p.name, 'run `banger image list`');
      refuseIfUsed('image', p.name);
      images.remove(p.name);
      if (images.refCount(r.sha256) === 0) await removeImageDir(paths, r.sha256);
      return { name: p.name, sha256: r.sha256 };
    },
    ...imageExtraHandlers({
      paths,
      config,
      log,
      registerImage,
      registerImport,
      refuseIfUsed: (name) => refuseIfUsed('image', name),
      pullKernel,
      getImage: (n) => images.get(n)?.manifest ?? null,
    }),
  };

  async function doctor(): Promise<DoctorCheck[]> {
    const img = images.get(config.defaultImageName);
    const k = kernels.get(config.defaultKernelName);
    // As a non-root user, image builds need a user namespace with subordinate ids (artifacts/image/rootless.ts).
    const rootless: DoctorCheck[] = [];
    if (process.getuid?.() !== 0) {
      const problems = rootlessProblems('build', await rootlessFacts());
      rootless.push(
        problems.length === 0
          ? { name: 'rootless builds', verdict: 'pass', detail: 'uidmap, fakeroot and subordinate id ranges present' }
          : { name: 'rootless builds', verdict: img ? 'warn' : 'fail', detail: problems.join('; '), fix: 'run each command given, then `banger image build`' },
      );
    }
    return [
      ...rootless,
      img
        ? { name: 'default image', verdict: 'pass', detail: `${config.defaultImageName} (${img.sha256.slice(0, 12)})` }
        : { name: 'default image', verdict: 'warn', detail: `${config.defaultImageName} not built yet`, fix: 'it is built on first `banger vm run` (or run `banger image build`)' },
      k
        ? { name: 'default kernel', verdict: 'pass', detail: `${config.defaultKernelName}: ${k.manifest.release}` }
        : { name: 'default kernel', verdict: 'warn', detail: `${config.defaultKernelName} not pulled yet`, fix: 'it is pulled on first use (or run `banger kernel pull`)' },
    ];
  }

  return { access, handlers, doctor };
}
