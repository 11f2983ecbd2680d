/** image.import: a streamed rootfs tar (image.export and image.pull are the artifact service's). */
import { createReadStream } from 'node:fs';
import type { ImageManifest } from '../api/image.js';
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
}

export function imageExtraHandlers(deps: ImageExtraDeps): Pick<Handlers, 'image.import'> {
  const { paths, log } = deps;
  return {
    'image.import': async (p, ctx) => {
      // '-' means the client streams the tar as stdin frames.
      const input = p.rootfsTar === '-' ? ctx.stdin : createReadStream(p.rootfsTar);
      const r = await importRootfsTar({ paths, name: p.name, input, size: p.size, progress: ctx.progress, log });
      return deps.registerImage(p.name, r.manifest, r.manifest.kernelRef);
    },
  };
}
