/**
 * Image bundles: `NAME.tar.zst` holding manifest.json then rootfs.ext4. Export streams the image
 * through tar-stream into the `zstd` binary (zeros in the sparse ext4 compress to almost nothing).
 * Import reads the bundle as untrusted input: exactly two regular-file entries, the rootfs
 * written sparse and hashed in the same pass, and its sha256 checked against the manifest (and
 * the bundle's own sha256 against the catalog's, when known) before anything is registered.
 */
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { BangerError } from '../../api/errors.js';
import { ImageManifest, ImageName, type ImageSource } from '../../api/image.js';
import { formatBytes } from '../../api/names.js';
import { noProgress, type Progress } from '../../api/progress.js';
import { spawnProcess, which, type ProcessHandle } from '../../host/exec.js';
import { openTempBeside } from '../../host/privatefile.js';
import { silentLogger, type Logger } from '../../host/logger.js';
import { IMAGE_FILES, type Paths } from '../../store/paths.js';
import { newSha256, sha256File, verifySha256 } from '../digest.js';
import { writeSparse } from './sparsewrite.js';
import { cleanStaleStaging, createStaging } from '../staging.js';
import { publishImage, readImageManifest, type PublishedImage } from './store.js';

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** A rootfs larger than this in a bundle is refused (a tiny bundle can claim terabytes of zeros). */
export const MAX_BUNDLE_ROOTFS_BYTES = 1024 ** 4;

async function needZstd(): Promise<void> {
  if ((await which('zstd')) === null) throw new BangerError('unavailable', 'image bundles need zstd; install it with `apt-get install zstd`');
}

/** Collects a process's stderr (bounded) for error messages. */
function stderrOf(proc: ProcessHandle): () => string {
  let text = '';
  proc.child.stderr?.on('data', (b: Buffer) => {
    if (text.length < 4096) text += b.toString('utf8');
  });
  return () => text.trim();
}

export interface ExportBundleOptions {
  /** The image directory (images/<sha256>/). */
  dir: string;
  output: string;
  progress?: Progress;
  log?: Logger;
}

export interface ExportBundleResult {
  output: string;
  sha256: string;
  sizeBytes: number;
}

/** Writes the image in `dir` as a .tar.zst bundle at `output` (atomically: a partial file is renamed). */
export async function exportBundle(opts: ExportBundleOptions): Promise<ExportBundleResult> {
  const progress = opts.progress ?? noProgress;
  const log = (opts.log ?? silentLogger).child({ op: 'image.export' });
  await needZstd();
  const manifest = await readImageManifest(opts.dir);
  const rootfs = join(opts.dir, IMAGE_FILES.rootfs);
  const st = await stat(rootfs);
  const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  // A new file with an unpredictable name (O_EXCL|O_NOFOLLOW), renamed over the output when complete.
  const temp = await openTempBeside(opts.output, 0o644);
  const partial = temp.path;
  const mtime = new Date(manifest.builtAt);

  progress('export', `${manifest.name}: ${formatBytes(st.size)} ext4 -> ${opts.output}`);
  const zstd = spawnProcess(['zstd', '-q', '-T0', '-3', '-c'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const zstdErr = stderrOf(zstd);
  const hash = newSha256();
  let written = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      written += chunk.length;
      cb(null, chunk);
    },
  });
  const pack = tar.pack();
  const out = pipeline(zstd.child.stdout!, tap, temp.handle.createWriteStream());
  const feed = pipeline(pack, zstd.child.stdin!);
  out.catch(() => {});
  feed.catch(() => {});
  try {
    pack.entry({ name: IMAGE_FILES.manifest, size: manifestBytes.length, mode: 0o644, mtime }, manifestBytes);
    await pipeline(
      createReadStream(rootfs, { highWaterMark: 1024 * 1024 }),
      pack.entry({ name: IMAGE_FILES.rootfs, size: st.size, mode: 0o644, mtime }),
    );
    pack.finalize();
    await Promise.all([feed, out]);
    const code = await zstd.exit;
    if (code !== 0) throw new BangerError('internal', `zstd failed with exit ${code}: ${zstdErr()}`);
    await rename(partial, opts.output);
  } catch (err) {
    zstd.kill('SIGKILL');
    pack.destroy();
    await rm(partial, { force: true });
    throw err;
  }
  const sha256 = hash.digest('hex');
  log.info({ output: opts.output, sha256, bytes: written }, 'image exported');
  return { output: opts.output, sha256, sizeBytes: written };
}

export interface ImportBundleOptions {
  paths: Paths;
  /** The .tar.zst bundle on the host. */
  file: string;
  /** When known (catalog), the bundle file's sha256, checked before it is even unpacked. */
  expectedSha256?: string | null;
  /** Local name; default the manifest's. */
  name?: string;
  source: ImageSource;
  /** The kernel the image boots with, recorded as kernelRef; default the manifest's. */
  kernelRef?: string | null;
  /** Runs after every check passed and before the image is published (e.g. pull its kernel). */
  beforePublish?: (manifest: ImageManifest) => Promise<void>;
  progress?: Progress;
  log?: Logger;
}

/** Checks and unpacks a bundle into the store. Nothing is registered unless every check passed. */
export async function importBundle(opts: ImportBundleOptions): Promise<PublishedImage> {
  const progress = opts.progress ?? noProgress;
  const log = (opts.log ?? silentLogger).child({ op: 'image.bundle' });
  await needZstd();
  if (opts.expectedSha256) {
    progress('verify', `sha256 of ${opts.file}`);
    verifySha256(`bundle ${opts.file}`, opts.expectedSha256, await sha256File(opts.file));
  }

  await cleanStaleStaging(opts.paths, log);
  const staging = await createStaging(opts.paths, 'bundle');
  try {
    const out = join(staging.dir, 'image');
    await mkdir(out);
    const rootfsPath = join(out, IMAGE_FILES.rootfs);

    progress('unpack', opts.file);
    const zstd = spawnProcess(['zstd', '-d', '-q', '-c', '--', opts.file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const zstdErr = stderrOf(zstd);
    const extract = tar.extract();
    const read = pipeline(zstd.child.stdout!, extract);
    read.catch(() => {});
    let manifestText: string | null = null;
    let rootfs: { sha256: string; bytes: number } | null = null;
    try {
      for await (const entry of extract) {
        const h = entry.header;
        const bad = (why: string) => new BangerError('bad_request', `${opts.file} is not a banger image bundle: entry "${h.name}" ${why}; nothing was registered`);
        if (h.type !== 'file') throw bad(`is a ${h.type ?? 'unknown entry'}, expected a regular file`);
        if (h.name === IMAGE_FILES.manifest && manifestText === null) {
          if (h.size > MAX_MANIFEST_BYTES) throw bad('is too large');
          const parts: Buffer[] = [];
          for await (const c of entry) parts.push(c as Buffer);
          manifestText = Buffer.concat(parts).toString('utf8');
        } else if (h.name === IMAGE_FILES.rootfs && rootfs === null) {
          if (h.size > MAX_BUNDLE_ROOTFS_BYTES) throw bad(`claims ${formatBytes(h.size)}, more than the ${formatBytes(MAX_BUNDLE_ROOTFS_BYTES)} limit`);
          rootfs = await writeSparse(entry as AsyncIterable<Buffer>, rootfsPath);
        } else throw bad('is unexpected (a bundle holds manifest.json and rootfs.ext4, once each)');
      }
      await read;
    } catch (err) {
      zstd.kill('SIGKILL');
      extract.destroy();
      if (err instanceof BangerError) throw err;
      const why = zstdErr() || (err as Error).message;
      throw new BangerError('bad_request', `${opts.file} is not a valid .tar.zst bundle: ${why}; nothing was registered`, { cause: err });
    }
    const code = await zstd.exit;
    if (code !== 0) throw new BangerError('bad_request', `${opts.file} is not a valid .tar.zst bundle: zstd exit ${code}: ${zstdErr()}; nothing was registered`);
    if (manifestText === null || rootfs === null) {
      throw new BangerError('bad_request', `${opts.file} is not a banger image bundle: it lacks ${manifestText === null ? IMAGE_FILES.manifest : IMAGE_FILES.rootfs}; nothing was registered`);
    }

    let json: unknown;
    try {
      json = JSON.parse(manifestText);
    } catch {
      json = undefined;
    }
    const parsed = ImageManifest.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      throw new BangerError('bad_request', `the manifest in ${opts.file} is invalid (${issues}); nothing was registered`);
    }
    verifySha256(`rootfs.ext4 in ${opts.file}`, parsed.data.sha256, rootfs.sha256);
    if (rootfs.bytes !== parsed.data.sizeBytes) {
      throw new BangerError('bad_request', `rootfs.ext4 in ${opts.file} has ${rootfs.bytes} bytes, the manifest says ${parsed.data.sizeBytes}; nothing was registered`);
    }

    const manifest = ImageManifest.parse({
      ...parsed.data,
      name: ImageName.parse(opts.name ?? parsed.data.name),
      kernelRef: opts.kernelRef === undefined ? parsed.data.kernelRef : opts.kernelRef,
      source: opts.source,
    });
    if (opts.beforePublish) await opts.beforePublish(manifest);
    progress('publish', `images/${manifest.sha256.slice(0, 12)}`);
    const published = await publishImage(opts.paths, out, manifest);
    log.info({ sha256: manifest.sha256, name: manifest.name, existed: published.existed }, 'image bundle imported');
    return published;
  } finally {
    await staging.remove();
  }
}
