/**
 * image.import / image.export / image.pull: streamed tars, bundles and the catalog. An import
 * reads only a regular file or the client's stdin (artifacts/image/tarinput.ts), at most
 * config's image_import_max_size, stops when the client goes away, and never silently replaces
 * an image of the same name (`--force` replaces it, with the delete guards).
 */
import { BangerError, notFound } from '../api/errors.js';
import type { ImageManifest } from '../api/image.js';
import type { KernelManifest } from '../api/kernel.js';
import type { Progress } from '../api/progress.js';
import { exportBundle } from '../artifacts/image/bundle.js';
import { loadCatalog, pullImage } from '../artifacts/image/catalog.js';
import { importRootfsTar } from '../artifacts/image/import.js';
import { openTarFile } from '../artifacts/image/tarinput.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../host/logger.js';
import type { Paths } from '../store/paths.js';
import type { Handlers } from './dispatch.js';

export interface ImageExtraDeps {
  paths: Paths;
  config: Config;
  log: Logger;
  registerImage(name: string, m: ImageManifest, kernelName: string | null): ImageManifest;
  /**
   * Registers an imported image under `name`. With `replace`, an image already under the name is
   * replaced and its directory removed when nothing else refers to it (refused while a VM uses it);
   * without, an existing name is a conflict. An unregistered new directory is removed on refusal.
   */
  registerImport(name: string, m: ImageManifest, replace: boolean): Promise<ImageManifest>;
  /** Throws `conflict` naming the VMs that use the image. */
  refuseIfUsed(name: string): void;
  pullKernel(name: string, progress: Progress): Promise<KernelManifest>;
  getImage(name: string): ImageManifest | null;
}

export function imageExtraHandlers(deps: ImageExtraDeps): Pick<Handlers, 'image.import' | 'image.export' | 'image.pull'> {
  const { paths, config, log } = deps;
  return {
    'image.import': async (p, ctx) => {
      const existing = deps.getImage(p.name);
      if (existing && !p.force) throw nameTaken(p.name, existing);
      if (existing) deps.refuseIfUsed(p.name); // before reading a byte; registerImport checks again
      // '-' means the client streams the tar as stdin frames; else a regular file, opened here once.
      const input = p.rootfsTar === '-' ? ctx.stdin : await openTarFile(p.rootfsTar, config.imageImportMaxBytes);
      try {
        const r = await importRootfsTar({
          paths,
          name: p.name,
          input,
          size: p.size,
          maxBytes: config.imageImportMaxBytes,
          signal: ctx.signal,
          progress: ctx.progress,
          log,
        });
        return await deps.registerImport(p.name, r.manifest, p.force);
      } finally {
        if (input !== ctx.stdin) input.destroy(); // closes the file also when the import never read it
      }
    },
    'image.export': async (p, ctx) => {
      const m = deps.getImage(p.name);
      if (!m) throw notFound('image', p.name, 'run `banger image list`');
      return exportBundle({ dir: paths.imageDir(m.sha256), output: p.output, progress: ctx.progress, log });
    },
    'image.pull': async (p, ctx) => {
      const catalog = await loadCatalog(config.catalog);
      let kernelName: string | null = null;
      const r = await pullImage({
        paths,
        nameOrUrl: p.nameOrUrl,
        catalog,
        pullKernel: async (name) => {
          kernelName = name;
          return deps.pullKernel(name, ctx.progress);
        },
        progress: ctx.progress,
        log,
      });
      return deps.registerImage(r.manifest.name, r.manifest, kernelName ?? r.manifest.kernelRef);
    },
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
