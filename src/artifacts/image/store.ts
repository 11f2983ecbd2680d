/**
 * The image store on disk: content-addressed directories images/<sha256>/ holding rootfs.ext4 and
 * manifest.json. Publishing is one rename from staging, so an image directory is either complete
 * or absent. The name -> sha256 registry is SQLite's (the daemon's); these functions deal in
 * manifests and directories only.
 */
import { mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BangerError } from '../../api/errors.js';
import { ImageManifest } from '../../api/image.js';
import type { Progress } from '../../api/progress.js';
import { IMAGE_FILES, type Paths } from '../../store/paths.js';
import { sha256File } from '../digest.js';
import { removeTree } from '../staging.js';
import { makeExt4 } from './ext4.js';
import type { OwnershipKeeper } from './keeper.js';
import { debianArch } from './rootfsinfo.js';

const SHA_RE = /^[0-9a-f]{64}$/;

function checkSha(sha: string): void {
  // The sha becomes a path component: never let it be anything but hex.
  if (!SHA_RE.test(sha)) throw new BangerError('bad_request', `not an image id: ${JSON.stringify(sha)}`);
}

/** Reads and validates dir/manifest.json. */
export async function readImageManifest(dir: string): Promise<ImageManifest> {
  const file = join(dir, IMAGE_FILES.manifest);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new BangerError('not_found', `image manifest ${file} is missing`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new BangerError('bad_request', `image manifest ${file} is not valid JSON`, { cause: err });
  }
  const parsed = ImageManifest.safeParse(json);
  if (!parsed.success) {
    throw new BangerError('bad_request', `image manifest ${file} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

export async function writeImageManifest(dir: string, manifest: ImageManifest): Promise<void> {
  await writeFile(join(dir, IMAGE_FILES.manifest), `${JSON.stringify(ImageManifest.parse(manifest), null, 2)}\n`);
}

async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export interface PublishedImage {
  dir: string;
  manifest: ImageManifest;
  /** The same content was already in the store; the staged copy was discarded. */
  existed: boolean;
}

/**
 * Moves a staged image directory (rootfs.ext4 + manifest.json, sha256 already verified) into
 * images/<sha256>/ with one rename. The staging directory must be on the same file system
 * (paths.stagingDir is).
 */
export async function publishImage(paths: Paths, stagedDir: string, manifest: ImageManifest): Promise<PublishedImage> {
  checkSha(manifest.sha256);
  await writeImageManifest(stagedDir, manifest);
  await fsyncFile(join(stagedDir, IMAGE_FILES.rootfs));
  await fsyncFile(join(stagedDir, IMAGE_FILES.manifest));
  await mkdir(paths.imagesDir, { recursive: true });
  const dir = paths.imageDir(manifest.sha256);
  try {
    await rename(stagedDir, dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    // Same sha256, same bytes: keep the stored copy.
    await rm(stagedDir, { recursive: true, force: true });
    return { dir, manifest: await readImageManifest(dir), existed: true };
  }
  return { dir, manifest, existed: false };
}

/** Every complete image directory's manifest; unreadable directories are reported, not fatal. */
export async function listImageManifests(paths: Paths): Promise<{ manifests: ImageManifest[]; broken: { dir: string; error: string }[] }> {
  let names: string[];
  try {
    names = await readdir(paths.imagesDir);
  } catch {
    return { manifests: [], broken: [] };
  }
  const manifests: ImageManifest[] = [];
  const broken: { dir: string; error: string }[] = [];
  for (const name of names.filter((n) => SHA_RE.test(n)).sort()) {
    const dir = paths.imageDir(name);
    try {
      const m = await readImageManifest(dir);
      if (m.sha256 !== name) throw new Error(`manifest sha256 ${m.sha256} does not match the directory name`);
      manifests.push(m);
    } catch (err) {
      broken.push({ dir, error: (err as Error).message });
    }
  }
  return { manifests, broken };
}

/** Reads the manifest of a stored image by content id. */
export async function readStoredImage(paths: Paths, sha: string): Promise<ImageManifest> {
  checkSha(sha);
  return readImageManifest(paths.imageDir(sha));
}

/** Removes images/<sha256>/. The caller checks that no VM or registry name still uses it. */
export async function removeImageDir(paths: Paths, sha: string): Promise<void> {
  checkSha(sha);
  const dir = paths.imageDir(sha);
  // Rename first so a half-deleted directory is never mistaken for an image.
  const doomed = join(paths.stagingDir, `image-delete-${sha.slice(0, 12)}-${process.pid}-${Date.now()}`);
  await mkdir(paths.stagingDir, { recursive: true });
  try {
    await rename(dir, doomed);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  await rm(doomed, { recursive: true, force: true });
}

export interface PublishRootTreeOptions {
  paths: Paths;
  /** The finished root file system tree; removed once the ext4 holds it. */
  root: string;
  /** The staged image directory rootfs.ext4 and manifest.json are written into. */
  out: string;
  sizeBytes: number;
  /** How the size is shown in progress (as the user gave it, or computed). */
  sizeText: string;
  manifest: Omit<ImageManifest, 'arch' | 'sha256' | 'sizeBytes' | 'builtAt'>;
  progress: Progress;
  /** The keeper the tree was extracted under: mkfs must see the same owners. */
  keeper?: OwnershipKeeper;
}

/** The common end of `image build` and `image import`: tree → sparse ext4 → sha256 → manifest → published. */
export async function publishRootTree(opts: PublishRootTreeOptions): Promise<PublishedImage> {
  opts.progress('mkfs', `mkfs.ext4 -d (${opts.sizeText}, sparse)`);
  const rootfs = join(opts.out, IMAGE_FILES.rootfs);
  await makeExt4({ sourceDir: opts.root, output: rootfs, sizeBytes: opts.sizeBytes, wrap: opts.keeper?.wrap });
  // The tree is no longer needed; drop it before hashing to free the space early.
  await removeTree(opts.root);
  opts.progress('hash', 'sha256 of rootfs.ext4');
  const sha256 = await sha256File(rootfs);
  const manifest = ImageManifest.parse({ ...opts.manifest, arch: debianArch(), sha256, sizeBytes: opts.sizeBytes, builtAt: new Date().toISOString() });
  opts.progress('publish', `images/${sha256.slice(0, 12)}`);
  return publishImage(opts.paths, opts.out, manifest);
}
