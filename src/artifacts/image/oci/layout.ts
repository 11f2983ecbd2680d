/**
 * Reading an OCI image layout (what `skopeo copy … oci:DIR` and `buildah push … oci:DIR` write, or a
 * user's `--oci-layout DIR`): index.json → the linux/amd64 manifest → config and layer descriptors.
 * Every blob is checked against its descriptor (sha256 and size) before it is used; a JSON blob is
 * read only up to a small bound. The schemas are loose (OCI documents carry fields banger ignores);
 * the choice of platform and the runtime config are pure functions, table-tested.
 */
import { lstat, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { BangerError } from '../../../api/errors.js';
import type { ImageRuntimeConfig } from '../../../api/image.js';
import { hashFile } from '../../digest.js';

const DIGEST_RE = /^sha256:([a-f0-9]{64})$/;
const MAX_JSON_BYTES = 4 * 1024 * 1024;
/** The platform banger's guests run. */
export const WANT_PLATFORM = { os: 'linux', architecture: 'amd64' } as const;

export const Descriptor = z.looseObject({
  mediaType: z.string().default(''),
  digest: z.string(),
  size: z.number().int().nonnegative(),
  platform: z.looseObject({ os: z.string(), architecture: z.string(), variant: z.string().optional() }).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type Descriptor = z.infer<typeof Descriptor>;

export const ImageIndex = z.looseObject({ schemaVersion: z.literal(2), manifests: z.array(Descriptor) });
export const ImageManifestDoc = z.looseObject({ schemaVersion: z.literal(2), config: Descriptor, layers: z.array(Descriptor) });
export type ImageManifestDoc = z.infer<typeof ImageManifestDoc>;

const strings = z.array(z.string()).nullish();
export const ImageConfigDoc = z.looseObject({
  architecture: z.string(),
  os: z.string(),
  config: z
    .looseObject({ Env: strings, WorkingDir: z.string().nullish(), User: z.string().nullish(), Entrypoint: strings, Cmd: strings })
    .nullish(),
});
export type ImageConfigDoc = z.infer<typeof ImageConfigDoc>;

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);
export const isIndex = (d: Descriptor): boolean => INDEX_TYPES.has(d.mediaType);
const REF_NAME = 'org.opencontainers.image.ref.name';

/** One step of choosing a manifest from an index: the descriptor to follow, or why none fits. */
export type Choice = { ok: true; descriptor: Descriptor } | { ok: false; error: BangerError };

/**
 * Picks the linux/amd64 entry of an index (entries without a platform count as candidates; their
 * config is checked later). Several candidates need `refName` (the layout's tag) to choose.
 */
export function chooseManifest(manifests: readonly Descriptor[], what: string, refName?: string): Choice {
  const fits = manifests.filter((d) => !d.platform || (d.platform.os === WANT_PLATFORM.os && d.platform.architecture === WANT_PLATFORM.architecture));
  if (fits.length === 0) {
    const have = [...new Set(manifests.map((d) => (d.platform ? `${d.platform.os}/${d.platform.architecture}` : 'unknown')))].join(', ');
    return { ok: false, error: otherArch(what, have || 'nothing') };
  }
  const named = refName === undefined ? fits : fits.filter((d) => d.annotations?.[REF_NAME] === refName);
  if (named.length === 1) return { ok: true, descriptor: named[0]! };
  if (named.length === 0) {
    const names = manifests.map((d) => d.annotations?.[REF_NAME]).filter(Boolean);
    return { ok: false, error: new BangerError('not_found', `${what} has no image tagged "${refName}" (it has: ${names.join(', ') || 'no tags'}); name one as DIR:TAG`) };
  }
  const names = named.map((d) => d.annotations?.[REF_NAME] ?? d.digest.slice(0, 19));
  return { ok: false, error: new BangerError('bad_request', `${what} holds ${named.length} linux/amd64 images (${names.join(', ')}); name one as DIR:TAG`) };
}

export function otherArch(what: string, have: string): BangerError {
  return new BangerError(
    'bad_request',
    `${what} has no ${WANT_PLATFORM.os}/${WANT_PLATFORM.architecture} image (it has ${have}); banger's guests are ${WANT_PLATFORM.os}/${WANT_PLATFORM.architecture}, pick a tag built for that platform`,
    { details: { have } },
  );
}

/** The image config's run settings, in the manifest's shape (empty strings become null). */
export function runtimeFromConfig(cfg: ImageConfigDoc): ImageRuntimeConfig {
  const c = cfg.config ?? {};
  return {
    env: c.Env ?? [],
    workingDir: c.WorkingDir ? c.WorkingDir : null,
    user: c.User ? c.User : null,
    entrypoint: c.Entrypoint ?? [],
    cmd: c.Cmd ?? [],
  };
}

/** A layout on disk: where its blobs may be (its own blobs/, then a shared blob cache). */
export interface Layout {
  dir: string;
  blobDirs: string[];
  /** Said in errors: "the OCI layout /x", "docker://…". */
  what: string;
}

function hexOf(d: Descriptor, what: string): string {
  const m = DIGEST_RE.exec(d.digest);
  if (!m) throw new BangerError('bad_request', `${what}: unsupported digest ${JSON.stringify(d.digest)} (banger verifies sha256 only)`);
  return m[1]!;
}

/** The blob's file: the first blob dir holding it as a regular file. */
export async function blobPath(layout: Layout, d: Descriptor): Promise<string> {
  const hex = hexOf(d, layout.what);
  for (const dir of layout.blobDirs) {
    const p = join(dir, 'sha256', hex);
    const st = await lstat(p).catch(() => null);
    if (st?.isFile()) return p;
  }
  throw new BangerError('not_found', `${layout.what}: blob ${d.digest} is missing from the layout`);
}

/** Throws `bad_request` naming the blob when its bytes are not what the descriptor promised. */
export function digestMismatch(what: string, d: Descriptor, actual: string, size: number): BangerError {
  return new BangerError(
    'bad_request',
    `${what}: blob ${d.digest} does not match its descriptor (got sha256:${actual}, ${size} bytes, expected ${d.size}); it is corrupt or was tampered with, and nothing was registered`,
    { details: { digest: d.digest, actual: `sha256:${actual}` } },
  );
}

/** Verifies a blob file (sha256 + size); a corrupt copy in the shared cache is deleted so the next pull fetches it again. */
export async function verifyBlob(layout: Layout, d: Descriptor, cacheDir?: string): Promise<string> {
  const path = await blobPath(layout, d);
  const { sha256, size } = await hashFile(path);
  if (`sha256:${sha256}` !== d.digest || size !== d.size) {
    if (cacheDir && path.startsWith(`${cacheDir}/`)) await unlink(path).catch(() => {});
    throw digestMismatch(layout.what, d, sha256, size);
  }
  return path;
}

/** Reads a small JSON blob, verified, and parses it with `schema`. */
export async function readJsonBlob<T extends z.ZodType>(layout: Layout, d: Descriptor, schema: T, kind: string, cacheDir?: string): Promise<z.output<T>> {
  if (d.size > MAX_JSON_BYTES) throw new BangerError('bad_request', `${layout.what}: the ${kind} ${d.digest} is ${d.size} bytes, more than ${MAX_JSON_BYTES}`);
  const path = await verifyBlob(layout, d, cacheDir);
  return parseJson(await readFile(path, 'utf8'), schema, `${layout.what}: the ${kind} ${d.digest}`);
}

function parseJson<T extends z.ZodType>(text: string, schema: T, what: string): z.output<T> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new BangerError('bad_request', `${what} is not JSON`, { cause: err });
  }
  const r = schema.safeParse(json);
  if (!r.success) throw new BangerError('bad_request', `${what} is not valid: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** A layout's image, resolved and verified: what flattening and the manifest need. */
export interface ResolvedImage {
  manifest: ImageManifestDoc;
  config: ImageConfigDoc;
  /** Layer blobs (bottom first), each verified against its descriptor. */
  layers: { descriptor: Descriptor; path: string }[];
}

/** index.json → (nested indexes) → the linux/amd64 manifest → config → layers, each blob verified. */
export async function resolveImage(layout: Layout, opts: { refName?: string; cacheDir?: string } = {}): Promise<ResolvedImage> {
  const indexFile = join(layout.dir, 'index.json');
  const fh = await open(indexFile, 'r').catch((err: unknown) => {
    throw new BangerError('not_found', `${layout.what} has no index.json: is it an OCI image layout?`, { cause: err });
  });
  let text: string;
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size > MAX_JSON_BYTES) throw new BangerError('bad_request', `${indexFile} is not a regular file of at most 4 MiB`);
    text = await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
  let choice = chooseManifest(parseJson(text, ImageIndex, indexFile).manifests, layout.what, opts.refName);
  for (let depth = 0; ; depth++) {
    if (!choice.ok) throw choice.error;
    if (!isIndex(choice.descriptor)) break;
    if (depth >= 4) throw new BangerError('bad_request', `${layout.what}: image indexes nested too deep`);
    const nested = await readJsonBlob(layout, choice.descriptor, ImageIndex, 'image index', opts.cacheDir);
    choice = chooseManifest(nested.manifests, layout.what);
  }
  const manifest = await readJsonBlob(layout, choice.descriptor, ImageManifestDoc, 'manifest', opts.cacheDir);
  const config = await readJsonBlob(layout, manifest.config, ImageConfigDoc, 'image config', opts.cacheDir);
  if (config.os !== WANT_PLATFORM.os || config.architecture !== WANT_PLATFORM.architecture) {
    throw otherArch(layout.what, `${config.os}/${config.architecture}`);
  }
  const layers = [];
  for (const d of manifest.layers) layers.push({ descriptor: d, path: await verifyBlob(layout, d, opts.cacheDir) });
  return { manifest, config, layers };
}
