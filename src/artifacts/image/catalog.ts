/**
 * The image catalog (catalog/catalog.json in the project, overridable by a path or URL in the
 * config) and `image pull NAME|URL`: download a bundle to staging, check its sha256 against the
 * catalog, unpack it with bundle.ts, pull the kernel it names, and only then publish.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BangerError, notFound } from '../../api/errors.js';
import { Catalog, type CatalogEntry } from '../../api/image.js';
import { formatBytes } from '../../api/names.js';
import { noProgress, type Progress } from '../../api/progress.js';
import { silentLogger, type Logger } from '../../host/logger.js';
import type { Paths } from '../../store/paths.js';
import { importBundle } from './bundle.js';
import { newSha256, verifySha256 } from '../digest.js';
import { cleanStaleStaging, createStaging } from '../staging.js';
import type { PublishedImage } from './store.js';
import { hostFetch } from '../../host/fetch.js';

/** The catalog shipped with banger (repo root; the same relative place from src/ and dist/). */
export const SHIPPED_CATALOG_PATH = fileURLToPath(new URL('../../../catalog/catalog.json', import.meta.url));

export interface LoadedCatalog {
  catalog: Catalog;
  /** Where it came from, as a URL: relative bundle URLs resolve against it. */
  base: string;
}

const isUrl = (s: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(s);

/** Validates catalog JSON; the error names the source and every problem. Pure. */
export function parseCatalog(json: unknown, source: string): Catalog {
  const parsed = Catalog.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new BangerError('bad_request', `image catalog ${source} is invalid: ${issues}`);
  }
  return parsed.data;
}

/** Loads the shipped catalog, or `source` (a file path or an http(s)/file URL) when given. */
export async function loadCatalog(source?: string | null): Promise<LoadedCatalog> {
  const where = source ?? SHIPPED_CATALOG_PATH;
  const base = isUrl(where) ? where : pathToFileURL(where).href;
  let text: string;
  try {
    text = base.startsWith('file:') ? await readFile(fileURLToPath(base), 'utf8') : await fetchText(base);
  } catch (err) {
    if (err instanceof BangerError) throw err;
    throw new BangerError('unavailable', `cannot read image catalog ${where}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new BangerError('bad_request', `image catalog ${where} is not valid JSON`, { cause: err });
  }
  return { catalog: parseCatalog(json, where), base };
}

async function fetchText(url: string): Promise<string> {
  const res = await hostFetch(url);
  if (!res.ok) throw new BangerError('unavailable', `GET ${url}: HTTP ${res.status}`);
  return res.text();
}

export interface ResolvedPull {
  /** Absolute URL of the bundle. */
  url: string;
  /** The catalog entry, when the name (or URL) is listed. */
  entry: CatalogEntry | null;
}

/** A catalog name or a bundle URL -> what to download and what to expect. Pure. */
export function resolvePull(loaded: LoadedCatalog, nameOrUrl: string): ResolvedPull {
  const abs = (u: string) => new URL(u, loaded.base).href;
  if (isUrl(nameOrUrl)) {
    const url = new URL(nameOrUrl).href;
    return { url, entry: loaded.catalog.images.find((e) => abs(e.url) === url) ?? null };
  }
  const entry = loaded.catalog.images.find((e) => e.name === nameOrUrl);
  if (!entry) {
    const names = loaded.catalog.images.map((e) => e.name);
    throw notFound('image', nameOrUrl, names.length ? `the catalog lists ${names.join(', ')}` : 'the catalog lists no images; pass a bundle URL or run `banger image build`');
  }
  return { url: abs(entry.url), entry };
}

export interface PullImageOptions {
  paths: Paths;
  nameOrUrl: string;
  catalog: LoadedCatalog;
  /** Makes sure the named kernel is present (the kernel service's pull); called before publishing. */
  pullKernel: (name: string) => Promise<unknown>;
  progress?: Progress;
  log?: Logger;
}

/** Downloads a URL to a file, hashing as it goes; progress every few MiB. */
async function download(url: string, file: string, progress: Progress): Promise<{ sha256: string; bytes: number }> {
  let body: Readable;
  let total: number | null = null;
  if (url.startsWith('file:')) body = createReadStream(fileURLToPath(url));
  else if (/^https?:/.test(url)) {
    let res: Response;
    try {
      res = await hostFetch(url);
    } catch (err) {
      throw new BangerError('unavailable', `cannot download ${url}: ${(err as Error).message}`, { cause: err });
    }
    if (!res.ok || !res.body) throw new BangerError('unavailable', `cannot download ${url}: HTTP ${res.status}`);
    total = Number(res.headers.get('content-length')) || null;
    body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  } else throw new BangerError('bad_request', `cannot pull from ${url}: only http, https and file URLs are supported`);

  const hash = newSha256();
  let bytes = 0;
  let reported = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      if (bytes - reported >= 16 * 1024 * 1024) {
        reported = bytes;
        progress('download', total ? `${formatBytes(bytes)} of ${formatBytes(total)}` : formatBytes(bytes));
      }
      cb(null, chunk);
    },
  });
  try {
    await pipeline(body, tap, createWriteStream(file, { flags: 'wx', mode: 0o600 }));
  } catch (err) {
    throw new BangerError('unavailable', `download of ${url} failed: ${(err as Error).message}`, { cause: err });
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Pulls an image bundle into the store; its sha256 is checked before anything is registered. */
export async function pullImage(opts: PullImageOptions): Promise<PublishedImage> {
  const progress = opts.progress ?? noProgress;
  const log = (opts.log ?? silentLogger).child({ op: 'image.pull' });
  const { url, entry } = resolvePull(opts.catalog, opts.nameOrUrl);

  await cleanStaleStaging(opts.paths, log);
  const staging = await createStaging(opts.paths, 'pull');
  try {
    const file = join(staging.dir, 'bundle.tar.zst');
    progress('download', url);
    const got = await download(url, file, progress);
    log.info({ url, bytes: got.bytes, sha256: got.sha256 }, 'bundle downloaded');
    if (entry) {
      progress('verify', `sha256 ${entry.sha256.slice(0, 12)}`);
      verifySha256(`bundle ${url}`, entry.sha256, got.sha256);
    } else {
      // A bare URL has no promised digest: the rootfs is still checked against its manifest.
      log.warn({ url }, 'bundle not listed in the catalog; only its internal manifest sha256 is checked');
    }
    return await importBundle({
      paths: opts.paths,
      file,
      name: entry?.name,
      source: 'pull',
      kernelRef: entry ? (entry.kernel?.name ?? null) : undefined,
      progress,
      log: opts.log,
      beforePublish: async (manifest) => {
        if (manifest.kernelRef === null) return;
        progress('kernel', `pulling kernel ${manifest.kernelRef}`);
        await opts.pullKernel(manifest.kernelRef);
      },
    });
  } finally {
    await staging.remove();
  }
}
