/**
 * The kernel API: the stored manifest of a guest kernel and the `kernel.*` methods.
 * A kernel lives in a content-addressed directory (kernels/<sha256>/); the name -> sha256
 * registry is SQLite's. Every schema is strict: unknown fields are errors.
 */
import { z } from 'zod';
import { Name } from './names.js';
import { Deleted } from './results.js';

/** A registry name for a kernel: what users type (`debian-cloud`, `my-6-9`). */
export const KernelName = Name;
export type KernelName = z.infer<typeof KernelName>;

/** The kernel `kernel pull` fetches when no name is given, and the one images and VMs use by default. */
export const DEFAULT_KERNEL_NAME = 'debian-cloud';

/** Lower-case hex sha256. */
export const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected a lower-case hex sha256');

/** A path relative to the kernel directory: no leading '/', no '..' segment. */
export const RelativePath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'expected a relative path without ".."');

const AbsolutePath = z.string().refine((p) => p.startsWith('/'), 'expected an absolute host path');

/** One stored file: where it is in the kernel directory, its hash and size. */
export const KernelFile = z
  .object({
    path: RelativePath,
    sha256: Sha256,
    size: z.number().int().nonnegative(),
  })
  .strict();
export type KernelFile = z.infer<typeof KernelFile>;

export const KernelFiles = z
  .object({
    /** The compressed bzImage as shipped (kept for drivers that boot it and for provenance). */
    vmlinuz: KernelFile.optional(),
    /** Uncompressed ELF; what QEMU (PVH entry) and Firecracker boot. */
    vmlinux: KernelFile,
    /** gzip newc initramfs implementing banger's boot contract. */
    initrd: KernelFile,
  })
  .strict();
export type KernelFiles = z.infer<typeof KernelFiles>;

export const KernelManifest = z
  .object({
    name: KernelName,
    /** `debian` for kernels pulled from Debian packages, `custom` for `kernel import`. */
    distro: z.enum(['debian', 'custom']),
    /** `uname -r` of the kernel, e.g. 6.1.0-56-cloud-amd64. */
    release: z.string().min(1),
    /** The content id (directory name): sha256 over the sorted `key sha256` lines of `files`. */
    sha256: Sha256,
    files: KernelFiles,
    /** The kept /lib/modules/<release> tree (the image build copies it and runs depmod). */
    modulesDir: RelativePath.optional(),
    /** Modules the initramfs loads, in load order (empty: virtio is built into the kernel). */
    initrdModules: z.array(z.string()).optional(),
    /** Who built the initramfs: `banger/<init script hash>`; absent when the user supplied it. */
    initrdBuilder: z.string().optional(),
    /** The vmlinux carries the Xen PVH entry note (QEMU needs it to boot the ELF directly). */
    vmlinuxPvh: z.boolean(),
    sourcePackage: z.object({ name: z.string().min(1), version: z.string().min(1) }).strict().optional(),
    importedAt: z.iso.datetime(),
  })
  .strict();
export type KernelManifest = z.infer<typeof KernelManifest>;

/** A kernel `kernel pull` can fetch, as `kernel list --available` shows it. */
export const AvailableKernel = z
  .object({
    name: KernelName,
    /** The versioned Debian package the name resolves to right now. */
    package: z.string().min(1),
    version: z.string().min(1),
  })
  .strict();
export type AvailableKernel = z.infer<typeof AvailableKernel>;

// ---- methods ----

export const KernelPullParams = z.object({ name: KernelName.default(DEFAULT_KERNEL_NAME) }).strict();
export type KernelPullParams = z.input<typeof KernelPullParams>;
export const KernelPullResult = KernelManifest;
export type KernelPullResult = z.infer<typeof KernelPullResult>;

export const KernelListParams = z.object({ available: z.boolean().optional() }).strict();
export type KernelListParams = z.infer<typeof KernelListParams>;
export const KernelListResult = z
  .object({
    kernels: z.array(KernelManifest),
    /** Present only when `available` was asked for. */
    available: z.array(AvailableKernel).optional(),
  })
  .strict();
export type KernelListResult = z.infer<typeof KernelListResult>;

export const KernelRef = z.object({ name: KernelName }).strict();
export type KernelRef = z.infer<typeof KernelRef>;
export const KernelShowResult = KernelManifest;
/** `id` is the kernel's sha256. */
export const KernelDeleteResult = Deleted;
export type KernelDeleteResult = z.infer<typeof KernelDeleteResult>;

export const KernelImportParams = z
  .object({
    name: KernelName,
    /** bzImage; vmlinux is extracted from it when not given. */
    vmlinuz: AbsolutePath.optional(),
    vmlinux: AbsolutePath.optional(),
    /** Must implement banger's boot contract; when absent banger builds its own initramfs. */
    initrd: AbsolutePath.optional(),
    /** A /lib/modules/<release> tree: its virtio modules go into banger's initramfs, and it is kept for the image. */
    modules: AbsolutePath.optional(),
  })
  .strict()
  .refine((p) => p.vmlinuz !== undefined || p.vmlinux !== undefined, {
    message: 'kernel import needs --vmlinuz or --vmlinux',
    path: ['vmlinuz'],
  });
export type KernelImportParams = z.input<typeof KernelImportParams>;
export const KernelImportResult = KernelManifest;

/** Method name -> schemas, for the lead's routing table (api/methods.ts). `banger kernel rm` calls kernel.delete. */
export const kernelMethods = {
  'kernel.pull': { params: KernelPullParams, result: KernelPullResult },
  'kernel.list': { params: KernelListParams, result: KernelListResult },
  'kernel.show': { params: KernelRef, result: KernelShowResult },
  'kernel.delete': { params: KernelRef, result: KernelDeleteResult },
  'kernel.import': { params: KernelImportParams, result: KernelImportResult },
} as const;
