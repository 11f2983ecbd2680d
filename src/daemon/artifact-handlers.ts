/** kernel.* / image.*: adapt the wire to the artifact service (artifacts/service.ts). */
import type { ArtifactService } from '../artifacts/service.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../host/logger.js';
import type { Paths } from '../store/paths.js';
import type { Handlers } from './dispatch.js';
import { imageExtraHandlers } from './image-handlers.js';

type ArtifactHandlers = Pick<
  Handlers,
  'kernel.pull' | 'kernel.list' | 'kernel.show' | 'kernel.delete' | 'kernel.import' | 'image.build' | 'image.list' | 'image.show' | 'image.delete' | 'image.import' | 'image.export' | 'image.pull'
  | 'image.pullOci' | 'image.importOci' | 'image.buildDockerfile'
>;

export function artifactHandlers(a: ArtifactService, deps: { paths: Paths; config: Config; log: Logger }): ArtifactHandlers {
  return {
    'kernel.pull': (p, ctx) => a.pullKernel(p.name, ctx.progress),
    'kernel.list': (p) => a.listKernels(p.available ?? false),
    'kernel.show': (p) => a.showKernel(p.name),
    'kernel.delete': (p) => a.deleteKernel(p.name),
    'kernel.import': (p, ctx) => a.importKernel(p, ctx.progress),
    'image.build': (p, ctx) => a.buildImage(p.name, p.include, p.size, ctx.progress, p.variant),
    'image.list': () => a.listImages(),
    'image.show': (p) => a.showImage(p.name),
    'image.delete': (p) => a.deleteImage(p.name),
    'image.export': (p, ctx) => a.exportImage(p.name, p.output, ctx.progress),
    'image.pull': (p, ctx) => a.pullImage(p.nameOrUrl, ctx.progress),
    ...imageExtraHandlers({ ...deps, artifacts: a }),
  };
}
