/**
 * image.import: a streamed rootfs tar (image.export and image.pull are the artifact service's);
 * image.pullOci / importOci / buildDockerfile: OCI sources (artifacts/image/oci/service.ts).
 * It reads only a regular file or the client's stdin (artifacts/image/tarinput.ts), at most
 * config's image_import_max_size, stops when the client goes away, and never silently replaces
 * an image of the same name (`--force` replaces it, with the delete guards).
 */
import { importRootfsTar } from '../artifacts/image/import.js';
import { createOciImageService } from '../artifacts/image/oci/service.js';
import { openTarFile } from '../artifacts/image/tarinput.js';
import type { ArtifactService } from '../artifacts/service.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../host/logger.js';
import type { Paths } from '../store/paths.js';
import type { Handlers } from './dispatch.js';

export interface ImageExtraDeps {
  paths: Paths;
  config: Config;
  log: Logger;
  artifacts: Pick<ArtifactService, 'checkImportTarget' | 'registerImport'>;
}

export function imageExtraHandlers(deps: ImageExtraDeps): Pick<Handlers, 'image.import' | 'image.pullOci' | 'image.importOci' | 'image.buildDockerfile'> {
  const { paths, config, log, artifacts } = deps;
  const oci = createOciImageService(deps);
  return {
    'image.pullOci': (p, ctx) => oci.pull(p, ctx),
    'image.importOci': (p, ctx) => oci.import(p, ctx),
    'image.buildDockerfile': (p, ctx) => oci.build(p, ctx),
    'image.import': async (p, ctx) => {
      artifacts.checkImportTarget(p.name, p.force); // before reading a byte; registerImport checks again
      // '-' means the client streams the tar as stdin frames; else a regular file, opened here once.
      const input = p.rootfsTar === '-' ? ctx.stdin : await openTarFile(p.rootfsTar, config.imageImportMaxBytes);
      try {
        const r = await importRootfsTar({
          paths,
          name: p.name,
          input,
          size: p.size,
          runtime: p.runtime,
          maxBytes: config.imageImportMaxBytes,
          signal: ctx.signal,
          progress: ctx.progress,
          log,
        });
        return await artifacts.registerImport(p.name, r.manifest, p.force);
      } finally {
        if (input !== ctx.stdin) input.destroy(); // closes the file also when the import never read it
      }
    },
  };
}
