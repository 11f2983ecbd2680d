/**
 * The image API: the stored manifest of a root filesystem image, the shipped catalog, and the
 * `image.*` methods. An image lives in a content-addressed directory (images/<sha256>/, named by
 * the sha256 of its rootfs.ext4); the name -> sha256 registry is SQLite's. Schemas are strict.
 */
import { z } from 'zod';
import { Sha256 } from './kernel.js';
import { ImageSize, Name } from './names.js';
import { Deleted } from './results.js';
import { DEFAULT_IMAGE_NAME, DEFAULT_IMAGE_SIZE, ImageVariant } from './defaults.js';

export const ImageName = Name;
export type ImageName = z.infer<typeof ImageName>;

export { DEFAULT_IMAGE_NAME, DEFAULT_IMAGE_SIZE, ImageVariant };
/** The largest rootfs tar `image import` reads unless config.toml's `image_import_max_size` says otherwise. */
export const DEFAULT_IMPORT_MAX_BYTES = 64 * 1024 ** 3;

/** A Debian package name (policy §5.6.1): what `--include` accepts. */
export const PackageName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9+.-]+$/, 'package names are lower-case letters, digits, "+", "-" and "." (e.g. python3-venv)');

export const InstalledPackage = z.object({ name: z.string().min(1), version: z.string().min(1) }).strict();
export type InstalledPackage = z.infer<typeof InstalledPackage>;

/** How the image came to this host. */
export const ImageSource = z.enum(['build', 'import', 'pull']);
export type ImageSource = z.infer<typeof ImageSource>;

/**
 * What an OCI image's config says about running it (Env, WorkingDir, User, Entrypoint, Cmd), kept so
 * `vm exec` and `vm run --image` honour it as `docker run` would. Absent for built Debian images.
 */
export const ImageRuntimeConfig = z
  .object({
    /** KEY=VALUE strings, in the image's order. */
    env: z.array(z.string()),
    workingDir: z.string().nullable(),
    /** `user`, `uid`, `user:group` or `uid:gid` as the image config gives it; null = root. */
    user: z.string().nullable(),
    entrypoint: z.array(z.string()),
    cmd: z.array(z.string()),
  })
  .strict();
export type ImageRuntimeConfig = z.infer<typeof ImageRuntimeConfig>;

export const ImageManifest = z
  .object({
    name: ImageName,
    /** `debian-bookworm` for built images; from /etc/os-release for imports; `unknown` if absent. */
    distro: z.string().min(1),
    /** Debian architecture name (amd64, arm64). */
    arch: z.string().min(1),
    /** The kernel whose modules are in /lib/modules, or null (imports carry none). */
    kernelRef: z.string().min(1).nullable(),
    /** sha256 of rootfs.ext4: the image's content id and directory name. */
    sha256: Sha256,
    /** Apparent size of rootfs.ext4 (the file is sparse; disk use is smaller). */
    sizeBytes: z.number().int().positive(),
    /** Installed Debian packages (dpkg), sorted by name; empty for non-Debian imports. */
    packages: z.array(InstalledPackage),
    builtAt: z.iso.datetime(),
    source: ImageSource,
    /** Set for images from OCI/Docker sources (pull, docker-archive, oci-layout, Dockerfile build). */
    runtime: ImageRuntimeConfig.optional(),
  })
  .strict();
export type ImageManifest = z.infer<typeof ImageManifest>;

// ---- the catalog of pullable bundles ----

export const CatalogEntry = z
  .object({
    name: ImageName,
    /** Where the .tar.zst bundle is; relative URLs resolve against the catalog's own location. */
    url: z.string().min(1),
    /** sha256 of the bundle file, checked before anything is registered. */
    sha256: Sha256,
    sizeBytes: z.number().int().positive(),
    /** The kernel to pull alongside (by kernel name), or null. */
    kernel: z.object({ name: z.string().min(1) }).strict().nullable(),
    description: z.string(),
  })
  .strict();
export type CatalogEntry = z.infer<typeof CatalogEntry>;

export const Catalog = z
  .object({
    version: z.literal(1),
    images: z.array(CatalogEntry),
  })
  .strict()
  .refine((c) => new Set(c.images.map((i) => i.name)).size === c.images.length, 'catalog image names must be unique');
export type Catalog = z.infer<typeof Catalog>;

// ---- methods ----

export const ImageRef = z.object({ name: ImageName }).strict();
export type ImageRef = z.infer<typeof ImageRef>;

export const ImageBuildParams = z
  .object({
    name: ImageName.default(DEFAULT_IMAGE_NAME),
    /** Packages added to the default set. */
    include: z.array(PackageName).default([]),
    /** Apparent size of the ext4 (sparse), e.g. 4G. */
    size: ImageSize.default(DEFAULT_IMAGE_SIZE),
    variant: ImageVariant.default('default'),
  })
  .strict();
export type ImageBuildParams = z.input<typeof ImageBuildParams>;
export const ImageBuildResult = ImageManifest;

export const ImageImportParams = z
  .object({
    name: ImageName,
    /** A host path to a `docker export`-style tar; the CLI turns `-` into a stream it uploads. */
    rootfsTar: z.string().min(1),
    /** Apparent size of the ext4; by default 4G or twice the content, whichever is larger. */
    size: ImageSize.optional(),
    /** Replace an image already registered under this name (refused while a VM or snapshot uses it). */
    force: z.boolean().default(false),
    /** How to run the image (OCI Env, WorkingDir, User, Entrypoint, Cmd), kept in its manifest. */
    runtime: ImageRuntimeConfig.optional(),
  })
  .strict();
export type ImageImportParams = z.input<typeof ImageImportParams>;
export const ImageImportResult = ImageManifest;

export const ImageExportParams = z
  .object({
    name: ImageName,
    /** Host path of the bundle to write (conventionally NAME.tar.zst). */
    output: z.string().min(1),
  })
  .strict();
export type ImageExportParams = z.input<typeof ImageExportParams>;
export const ImageExportResult = z
  .object({
    output: z.string(),
    /** sha256 and size of the bundle file: what a catalog entry lists. */
    sha256: Sha256,
    sizeBytes: z.number().int().positive(),
  })
  .strict();
export type ImageExportResult = z.infer<typeof ImageExportResult>;

export const ImagePullParams = z
  .object({
    /** A catalog image name, or an http(s)/file URL of a bundle. */
    nameOrUrl: z.string().min(1),
  })
  .strict();
export type ImagePullParams = z.input<typeof ImagePullParams>;
export const ImagePullResult = ImageManifest;

/** Catalog names are plain names; anything else but a URL (a/b, x:tag, x@sha256:…) is an OCI reference. */
export function looksLikeOciReference(s: string): boolean {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s) || s.startsWith('file:')) return false;
  return !ImageName.safeParse(s).success;
}

/** The host paths and options every OCI source shares. */
const ociCommon = {
  /** Apparent size of the ext4; by default 4G or twice the content, whichever is larger. */
  size: ImageSize.optional(),
  /** Replace an image already registered under this name (refused while a VM or snapshot uses it). */
  force: z.boolean().default(false),
};

export const ImagePullOciParams = z
  .object({
    /** An OCI reference: docker.io/library/busybox:latest, localhost:5000/x:tag, ghcr.io/o/i@sha256:… */
    ref: z.string().min(1).max(512),
    /** The banger image name; default: the repository's last component, plus the tag unless `latest`. */
    name: ImageName.optional(),
    /** Plain HTTP (or unverified TLS) to the registry: only for a local registry you trust. */
    insecure: z.boolean().default(false),
    ...ociCommon,
  })
  .strict();
export type ImagePullOciParams = z.input<typeof ImagePullOciParams>;

export const ImageImportOciParams = z
  .object({
    name: ImageName,
    /** A host path to a `docker save` / `podman save` archive. */
    dockerArchive: z.string().min(1).optional(),
    /** A host path to an OCI image layout directory, optionally DIR:TAG. */
    ociLayout: z.string().min(1).optional(),
    ...ociCommon,
  })
  .strict()
  .refine((p) => (p.dockerArchive === undefined) !== (p.ociLayout === undefined), 'give exactly one of dockerArchive and ociLayout');
export type ImageImportOciParams = z.input<typeof ImageImportOciParams>;

export const ImageBuildDockerfileParams = z
  .object({
    name: ImageName,
    /** Host path of the Dockerfile. */
    dockerfile: z.string().min(1),
    /** Host path of the build context; default: the Dockerfile's directory. */
    context: z.string().min(1).optional(),
    /** KEY=VALUE build arguments. */
    buildArgs: z.array(z.string().min(1)).default([]),
    /** The stage to build. */
    target: z.string().min(1).optional(),
    /** Plain HTTP (or unverified TLS) to the registries of FROM lines. */
    insecure: z.boolean().default(false),
    ...ociCommon,
  })
  .strict();
export type ImageBuildDockerfileParams = z.input<typeof ImageBuildDockerfileParams>;

export const ImageListParams = z.object({}).strict();
export const ImageListResult = z.object({ images: z.array(ImageManifest) }).strict();
export type ImageListResult = z.infer<typeof ImageListResult>;

export const ImageShowParams = ImageRef;
export const ImageShowResult = ImageManifest;

export const ImageDeleteParams = ImageRef;
/** `id` is the image's sha256. */
export const ImageDeleteResult = Deleted;
export type ImageDeleteResult = z.infer<typeof ImageDeleteResult>;

/** Method name -> schemas, for the lead's routing table (api/methods.ts). */
export const imageMethods = {
  'image.build': { params: ImageBuildParams, result: ImageBuildResult },
  'image.import': { params: ImageImportParams, result: ImageImportResult },
  'image.export': { params: ImageExportParams, result: ImageExportResult },
  'image.pull': { params: ImagePullParams, result: ImagePullResult },
  'image.pullOci': { params: ImagePullOciParams, result: ImageManifest },
  'image.importOci': { params: ImageImportOciParams, result: ImageManifest },
  'image.buildDockerfile': { params: ImageBuildDockerfileParams, result: ImageManifest },
  'image.list': { params: ImageListParams, result: ImageListResult },
  'image.show': { params: ImageShowParams, result: ImageShowResult },
  'image.delete': { params: ImageDeleteParams, result: ImageDeleteResult },
} as const;
