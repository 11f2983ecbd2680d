/**
 * The OCI verbs as the daemon calls them: `image.pullOci`, `image.importOci`,
 * `image.buildDockerfile`. Each checks the name before any work (a taken name is a `conflict`
 * unless force), produces the image (pull.ts / build.ts) and registers it through the artifact
 * registry, which checks the name again and removes the new directory if it is refused.
 */
import type { z } from 'zod';
import type { ImageBuildDockerfileParams, ImageImportOciParams, ImageManifest, ImagePullOciParams } from '../../../api/image.js';
import type { Progress } from '../../../api/progress.js';
import type { Config } from '../../../config/config.js';
import type { Logger } from '../../../host/logger.js';
import type { Paths } from '../../../store/paths.js';
import type { ArtifactService } from '../../service.js';
import type { PublishedImage } from '../store.js';
import { buildDockerfileImage } from './build.js';
import { importDockerArchive, importOciLayout, pullOciImage } from './pull.js';
import { defaultImageName, parseReference } from './ref.js';

export interface OciCallContext {
  progress: Progress;
  signal?: AbortSignal;
}

export interface OciImageService {
  pull(p: z.output<typeof ImagePullOciParams>, ctx: OciCallContext): Promise<ImageManifest>;
  import(p: z.output<typeof ImageImportOciParams>, ctx: OciCallContext): Promise<ImageManifest>;
  build(p: z.output<typeof ImageBuildDockerfileParams>, ctx: OciCallContext): Promise<ImageManifest>;
}

export interface OciImageServiceDeps {
  paths: Paths;
  config: Pick<Config, 'imageImportMaxBytes'>;
  log: Logger;
  artifacts: Pick<ArtifactService, 'checkImportTarget' | 'registerImport'>;
}

export function createOciImageService(deps: OciImageServiceDeps): OciImageService {
  const { paths, config, log, artifacts } = deps;
  async function produce(name: string, force: boolean, make: () => Promise<PublishedImage>): Promise<ImageManifest> {
    artifacts.checkImportTarget(name, force);
    const r = await make();
    return artifacts.registerImport(name, r.manifest, force);
  }
  const common = (name: string, size: string | undefined, ctx: OciCallContext) => ({
    paths,
    name,
    size,
    maxBytes: config.imageImportMaxBytes,
    signal: ctx.signal,
    progress: ctx.progress,
    log,
  });
  return {
    pull(p, ctx) {
      const name = p.name ?? defaultImageName(parseReference(p.ref));
      return produce(name, p.force, () => pullOciImage({ ...common(name, p.size, ctx), ref: p.ref, insecure: p.insecure }));
    },
    import(p, ctx) {
      return produce(p.name, p.force, () =>
        p.dockerArchive !== undefined
          ? importDockerArchive({ ...common(p.name, p.size, ctx), file: p.dockerArchive })
          : importOciLayout({ ...common(p.name, p.size, ctx), layout: p.ociLayout! }),
      );
    },
    build(p, ctx) {
      return produce(p.name, p.force, () =>
        buildDockerfileImage({ ...common(p.name, p.size, ctx), dockerfile: p.dockerfile, context: p.context, buildArgs: p.buildArgs, target: p.target, insecure: p.insecure }),
      );
    },
  };
}
