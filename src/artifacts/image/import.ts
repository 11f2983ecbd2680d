/**
 * `image import NAME --rootfs-tar FILE|-`: a `docker export`-style tar becomes an image. The tar is
 * untrusted: it is streamed once through tarsafety.ts and re-packed to disk with only validated
 * names, and the host `tar -x` runs on that copy. Owners and modes are kept (numeric ids), by
 * root for real or, for any other user, recorded by fakeroot (keeper.ts) and written by
 * `mkfs.ext4 -d` under the same keeper: the same tail as `image build`. Extended attributes are
 * not kept. Nothing from the archive is ever executed on the host.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { BangerError } from '../../api/errors.js';
import { DEFAULT_IMAGE_SIZE, DEFAULT_IMPORT_MAX_BYTES, ImageManifest, ImageName, type ImageRuntimeConfig, type ImageSource } from '../../api/image.js';
import { formatBytes, parseSize } from '../../api/names.js';
import { noProgress, type Progress } from '../../api/progress.js';
import { extractKept, ownershipKeeper } from './keeper.js';
import { checkRootless } from './rootless.js';
import { silentLogger, type Logger } from '../../host/logger.js';
import type { Paths } from '../../store/paths.js';
import { treeBytes } from './ext4.js';
import { readFileInRoot, resolveInRoot } from './rootpath.js';
import { distroName, parseDpkgStatus, parseOsRelease } from './rootfsinfo.js';
import { cleanStaleStaging, createStaging } from '../staging.js';
import { publishRootTree, type PublishedImage } from './store.js';
import { normalizeEntryName, TarEntryChecker, unsafeEntryError } from './tarsafety.js';
import { packMode } from './retar.js';
import { limitBytes } from './tarinput.js';

/** Throws `unavailable` when the caller went away; checked between the import's steps. */
function checkCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new BangerError('unavailable', 'the import was cancelled (the client went away); nothing was imported');
}

export interface ImportRootfsOptions {
  paths: Paths;
  name: string;
  /** The tar bytes (a file stream, or the CLI's upload of stdin). Read exactly once. */
  input: Readable;
  /** Apparent ext4 size; default max(4G, twice the content). */
  size?: string;
  /** The most tar bytes read (config image_import_max_size). @default DEFAULT_IMPORT_MAX_BYTES */
  maxBytes?: number;
  /** Aborted when the client goes away: reading stops and the staging directory is removed. */
  signal?: AbortSignal;
  progress?: Progress;
  log?: Logger;
  /** How the image came here. @default 'import' */
  source?: ImageSource;
  /** How to run the image (from an OCI config, or `--runtime-json`); stored in the manifest. */
  runtime?: ImageRuntimeConfig;
  /** Say when the root has no /sbin/init (OCI images pass false: few have one, and banger's init runs them). @default true */
  warnNoInit?: boolean;
}

export interface TarStats {
  entries: number;
  /** Sum of regular file sizes. */
  contentBytes: number;
}

const COMPRESSED_MAGIC: [Buffer, string][] = [
  [Buffer.from([0x1f, 0x8b]), 'gzip (pipe it through `gunzip -c` first)'],
  [Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), 'zstd (pipe it through `zstd -dc` first, or use `image pull` for a banger bundle)'],
  [Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), 'xz (pipe it through `xz -dc` first)'],
  [Buffer.from([0x42, 0x5a, 0x68]), 'bzip2 (pipe it through `bzip2 -dc` first)'],
];

/** Fails on the first chunk when the input is a compressed stream rather than a tar. */
function refuseCompressed(): Transform {
  let first = true;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (first) {
        first = false;
        const compressed = COMPRESSED_MAGIC.find(([magic]) => chunk.subarray(0, magic.length).equals(magic));
        if (compressed) return cb(new BangerError('bad_request', `the rootfs tar is compressed with ${compressed[1]}; nothing was imported`));
      }
      cb(null, chunk);
    },
  });
}

/** The header written for a checked entry: only fields we understand, the name as validated. */
function cleanHeader(h: tar.Header, path: string, linkTarget: string | undefined): Partial<tar.Header> & { name: string } {
  const type = h.type === 'contiguous-file' ? 'file' : h.type;
  return {
    name: path === '' ? '.' : path,
    type,
    mode: packMode(h.mode),
    uid: h.uid,
    gid: h.gid,
    mtime: h.mtime,
    size: type === 'file' ? h.size : 0,
    linkname: linkTarget,
    // No pax records: a `path`/`linkpath` record would override the validated name, and
    // tar-stream decodes xattr values as UTF-8, which corrupts binary ones (file capabilities).
  };
}

/**
 * Reads an untrusted tar once, checks every entry with tarsafety.ts, and writes a re-packed copy
 * holding only the validated names and plain headers. The host `tar -x` then reads an archive
 * this code wrote, so no difference between two tar parsers can smuggle a name past the check.
 */
export async function sanitizeTar(
  input: Readable,
  output: Writable,
  opts: { maxBytes?: number; signal?: AbortSignal } = {},
): Promise<TarStats> {
  const extract = tar.extract();
  const pack = tar.pack();
  const checker = new TarEntryChecker();
  const stats: TarStats = { entries: 0, contentBytes: 0 };
  const written = pipeline(pack, output);
  const read = pipeline(input, limitBytes(opts.maxBytes ?? DEFAULT_IMPORT_MAX_BYTES), refuseCompressed(), extract, ...(opts.signal ? [{ signal: opts.signal }] : []));
  written.catch(() => {});
  read.catch(() => {});
  try {
    for await (const entry of extract) {
      const h = entry.header;
      const v = checker.check(h);
      if (!v.ok) throw unsafeEntryError(h.name, v.reason);
      let linkTarget: string | undefined;
      if (h.type === 'symlink') linkTarget = h.linkname ?? undefined;
      if (h.type === 'link') {
        const t = normalizeEntryName(h.linkname ?? '');
        linkTarget = 'path' in t ? t.path : undefined;
      }
      stats.entries++;
      if (h.type === 'file' || h.type === 'contiguous-file') stats.contentBytes += h.size ?? 0;
      await pipeline(entry, pack.entry(cleanHeader(h, v.path, linkTarget)));
    }
    if (stats.entries === 0) throw new BangerError('bad_request', 'the rootfs tar has no entries; nothing was imported');
    pack.finalize();
    await Promise.all([read, written]);
    return stats;
  } catch (err) {
    pack.destroy();
    extract.destroy();
    input.destroy();
    checkCancelled(opts.signal);
    if (err instanceof BangerError) throw err;
    const first = await read.then(
      () => null,
      (e: unknown) => e,
    );
    if (first instanceof BangerError) throw first;
    throw new BangerError('bad_request', `not a valid tar archive: ${(err as Error).message}; nothing was imported`, { cause: err });
  }
}

/** Reads the distro and package list of an untrusted root (never following links out of it). */
export async function describeRoot(root: string): Promise<{ distro: string; packages: ImageManifest['packages'] }> {
  const osRelease = (await readFileInRoot(root, 'etc/os-release')) ?? (await readFileInRoot(root, 'usr/lib/os-release')) ?? '';
  const status = (await readFileInRoot(root, 'var/lib/dpkg/status', 64 * 1024 * 1024)) ?? '';
  return { distro: distroName(parseOsRelease(osRelease)), packages: parseDpkgStatus(status) };
}

/** Imports a rootfs tar into the store. A hostile tar fails naming the entry; nothing is registered. */
export async function importRootfsTar(opts: ImportRootfsOptions): Promise<PublishedImage> {
  const progress = opts.progress ?? noProgress;
  const log = (opts.log ?? silentLogger).child({ op: 'image.import' });
  const name = ImageName.parse(opts.name);
  const requestedSize = opts.size === undefined ? null : parseSize(opts.size);
  if (opts.size !== undefined && (requestedSize === null || requestedSize < 16 * 1024 * 1024)) {
    throw new BangerError('bad_request', `--size ${opts.size}: expected a size of at least 16M, like 4G`);
  }
  if (process.getuid?.() !== 0) await checkRootless('import');

  await cleanStaleStaging(opts.paths, log);
  const staging = await createStaging(opts.paths, 'import');
  try {
    const tarFile = join(staging.dir, 'rootfs.tar');
    const root = join(staging.dir, 'root');
    const out = join(staging.dir, 'image');
    await mkdir(root, { mode: 0o755 });
    await mkdir(out);

    progress('receive', 'checking every tar entry while staging the archive');
    const stats = await sanitizeTar(opts.input, createWriteStream(tarFile), { maxBytes: opts.maxBytes, signal: opts.signal });
    checkCancelled(opts.signal);
    log.info({ entries: stats.entries, contentBytes: stats.contentBytes }, 'rootfs tar validated');

    progress('extract', `${stats.entries} entries, ${formatBytes(stats.contentBytes)}`);
    // Safe only because this archive is sanitizeTar's output: no entry can land or link outside `root`.
    const keeper = ownershipKeeper(join(staging.dir, 'ownership.db'));
    await keeper.init();
    await extractKept(keeper, root, tarFile);
    await rm(tarFile, { force: true });
    checkCancelled(opts.signal);

    const { distro, packages } = await describeRoot(root);
    if (opts.warnNoInit !== false && (await resolveInRoot(root, 'sbin/init')) === null) {
      progress('check', 'no /sbin/init in this root file system: its VMs run banger\'s own init and sshd (from the kernel\'s initramfs)');
    }

    checkCancelled(opts.signal);
    const content = await treeBytes(root);
    const sizeBytes = requestedSize ?? Math.max(parseSize(DEFAULT_IMAGE_SIZE)!, Math.ceil((content * 2) / 1048576) * 1048576);
    return await publishRootTree({
      paths: opts.paths,
      root,
      out,
      sizeBytes,
      sizeText: formatBytes(sizeBytes),
      manifest: { name, distro, kernelRef: null, packages, source: opts.source ?? 'import', ...(opts.runtime ? { runtime: opts.runtime } : {}) },
      progress,
      keeper,
    });
  } finally {
    await staging.remove();
  }
}
