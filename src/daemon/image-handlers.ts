/** image.import / image.export / image.pull: streamed tars, bundles and the catalog. */
import { BangerError } from '../api/errors.js';
import type { ImageManifest } from '../api/image.js';
import type { KernelManifest } from '../api/kernel.js';
import type { Progress } from '../api/progress.js';
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

export function imageExtraHandlers(_deps: ImageExtraDeps): Pick<Handlers, 'image.import' | 'image.export' | 'image.pull'> {
  const pending = () => {
    throw new BangerError('unavailable', 'not wired yet');
  };
  return { 'image.import': pending, 'image.export': pending, 'image.pull': pending };
}
