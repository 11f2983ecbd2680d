/** image.import / image.export / image.pull: streamed tars, bundles and the catalog. */
import { createReadStream } from 'node:fs';
import { notFound } from '../api/errors.js';
import type { ImageManifest } from '../api/image.js';
import type { KernelManifest } from '../api/kernel.js';
import type { Progress } from '../api/progress.js';
import { exportBundle } from '../artifacts/image/bundle.js';
import { loadCatalog, pullImage } from '../artifacts/image/catalog.js';
import { importRootfsTar } from '../artifacts/image/import.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../host/logger.js';
import type { Paths } from '../store/paths.js';
import type { Handlers } from './dispatch.js';

export interface ImageExtraDeps {
  paths: Paths;
  config: Config;
  log: Logger;
  registerImage(name: string, m: ImageManifest, kernelName: string | null): ImageManifest;
  pullKernel(name: string, progress: Progress): Promise<KernelManifest>;
  getImage(name: string): ImageManifest | null;
}

export function imageExtraHandlers(deps: ImageExtraDeps): Pick<Handlers, 'image.import' | 'image.export' | 'image.pull'> {
  const { paths, config, log } = deps;
  return {
    'image.import': async (p, ctx) => {
      // '-' means the client streams the tar as stdin frames.
      const input = p.rootfsTar === '-' ? ctx.stdin : createReadStream(p.rootfsTar);
      const r = await importRootfsTar({ paths, name: p.name, input, size: p.size, progress: ctx.progress, log });
      return deps.registerImage(p.name, r.manifest, r.manifest.kernelRef);
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
