/**
 * OCI sources → a banger image: `image pull REF` (skopeo copies it into a staging OCI layout, blobs
 * in the shared cache), `image import --docker-archive FILE` (skopeo reads the archive into a
 * layout), `image import --oci-layout DIR[:TAG]` (read in place). All three end the same way:
 * resolve the linux/amd64 manifest with every blob verified (layout.ts), plan the layers and refuse
 * a hostile entry by name (flatten.ts), then hand the flattened tar to `image import`'s tail
 * (import.ts: checked again, extracted under the ownership keeper, mkfs.ext4 -d, published) with
 * the image config's Env/WorkingDir/User/Entrypoint/Cmd as the manifest's `runtime`.
 * Registering the name is the caller's (the artifact service's registerImport).
 */
import { access, stat, symlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BangerError } from '../../../api/errors.js';
import type { ImageSource } from '../../../api/image.js';
import { noProgress, type Progress } from '../../../api/progress.js';
import { silentLogger, type Logger } from '../../../host/logger.js';
import type { Paths } from '../../../store/paths.js';
import { createStaging } from '../../staging.js';
import { importRootfsTar } from '../import.js';
import type { PublishedImage } from '../store.js';
import { emitFlattened, planImage } from './flatten.js';
import { resolveImage, runtimeFromConfig, type Layout } from './layout.js';
import { parseReference } from './ref.js';
import { listPlatforms, skopeoCopy } from './skopeo.js';

export interface OciSourceOptions {
  paths: Paths;
  /** The banger image name (registered by the caller). */
  name: string;
  size?: string;
  maxBytes?: number;
  signal?: AbortSignal;
  progress?: Progress;
  log?: Logger;
}

/** The registry credentials file banger hands skopeo: ~/.docker/config.json when it exists. */
export async function dockerAuthFile(paths: Paths): Promise<string | undefined> {
  const f = join(paths.home, '.docker', 'config.json');
  return (await access(f).then(() => true, () => false)) ? f : undefined;
}

/** Resolve, verify, plan and import the layout's image. */
export async function publishLayout(layout: Layout, opts: OciSourceOptions & { source: ImageSource; refName?: string; cacheDir?: string }): Promise<PublishedImage> {
  const progress = opts.progress ?? noProgress;
  progress('verify', `${layout.what}: checking every blob against its digest`);
  const image = await resolveImage(layout, { refName: opts.refName, cacheDir: opts.cacheDir });
  const plan = await planImage(layout.what, image.layers, progress);
  const input = emitFlattened(layout.what, image.layers, plan, progress);
  try {
    return await importRootfsTar({
      paths: opts.paths,
      name: opts.name,
      input,
      size: opts.size,
      maxBytes: opts.maxBytes,
      signal: opts.signal,
      progress,
      log: opts.log,
      source: opts.source,
      runtime: runtimeFromConfig(image.config),
      warnNoInit: false,
    });
  } finally {
    input.destroy();
  }
}

/** `image pull REF`: registry → shared blob cache + staging layout → image. */
export async function pullOciImage(opts: OciSourceOptions & { ref: string; insecure?: boolean; authFile?: string }): Promise<PublishedImage> {
  const ref = parseReference(opts.ref);
  const progress = opts.progress ?? noProgress;
  const log = (opts.log ?? silentLogger).child({ op: 'image.pull', ref: ref.canonical });
  const authFile = opts.authFile ?? (await dockerAuthFile(opts.paths));
  const what = `docker://${ref.canonical}`;
  const staging = await createStaging(opts.paths, 'pull');
  try {
    const dir = join(staging.dir, 'layout');
    progress('fetch', `${ref.canonical}${opts.insecure ? ' (insecure)' : ''}`);
    try {
      await skopeoCopy({ src: what, destDir: dir, destTag: 'image', sharedBlobDir: opts.paths.ociBlobsDir, insecure: opts.insecure, authFile }, what, ref.registry, progress, opts.signal);
    } catch (err) {
      if (err instanceof BangerError && err.details && 'have' in err.details) {
        const have = await listPlatforms(ref, opts.insecure ?? false, authFile);
        if (have) throw new BangerError(err.code, err.message.replace('other platforms only', have), { details: { have } });
      }
      throw err;
    }
    log.info({ cache: opts.paths.ociBlobsDir }, 'image copied');
    const layout: Layout = { dir, blobDirs: [join(dir, 'blobs'), opts.paths.ociBlobsDir], what };
    return await publishLayout(layout, { ...opts, source: 'pull', refName: 'image', cacheDir: opts.paths.ociBlobsDir });
  } finally {
    await staging.remove();
  }
}

/** `image import NAME --docker-archive FILE`: a `docker save` / `podman save` archive. */
export async function importDockerArchive(opts: OciSourceOptions & { file: string }): Promise<PublishedImage> {
  const file = resolve(opts.file);
  const st = await stat(file).catch(() => null);
  if (!st?.isFile()) throw new BangerError('not_found', `--docker-archive ${opts.file}: not a regular file (make one with \`docker save IMAGE -o FILE\`)`);
  const staging = await createStaging(opts.paths, 'import-archive');
  try {
    // skopeo reads `docker-archive:PATH[:REF]`: a link without ":" in its name keeps any path addressable.
    const link = join(staging.dir, 'archive.tar');
    await symlink(file, link);
    const dir = join(staging.dir, 'layout');
    const what = `the docker archive ${opts.file}`;
    (opts.progress ?? noProgress)('read', what);
    await skopeoCopy({ src: `docker-archive:${link}`, destDir: dir, destTag: 'image' }, what, null, opts.progress ?? noProgress, opts.signal);
    return await publishLayout({ dir, blobDirs: [join(dir, 'blobs')], what }, { ...opts, source: 'import', refName: 'image' });
  } finally {
    await staging.remove();
  }
}

/** Splits `DIR[:TAG]` (a `:` followed by a tag-shaped suffix names the tag; an existing DIR wins). */
export async function splitLayoutArg(arg: string): Promise<{ dir: string; tag?: string }> {
  const whole = resolve(arg);
  if (await stat(whole).then((s) => s.isDirectory(), () => false)) return { dir: whole };
  const m = /^(.*):([\w][\w.-]{0,127})$/.exec(arg);
  if (m && (await stat(resolve(m[1]!)).then((s) => s.isDirectory(), () => false))) return { dir: resolve(m[1]!), tag: m[2] };
  throw new BangerError('not_found', `--oci-layout ${arg}: no such directory (give an OCI image layout directory, optionally DIR:TAG)`);
}

/** `image import NAME --oci-layout DIR[:TAG]`: a layout read in place, every blob verified. */
export async function importOciLayout(opts: OciSourceOptions & { layout: string }): Promise<PublishedImage> {
  const { dir, tag } = await splitLayoutArg(opts.layout);
  const what = `the OCI layout ${dir}`;
  return publishLayout({ dir, blobDirs: [join(dir, 'blobs')], what }, { ...opts, source: 'import', refName: tag });
}
