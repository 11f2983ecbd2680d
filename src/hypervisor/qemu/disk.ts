/**
 * Per-VM disks with qemu-img: a qcow2 copy-on-write overlay over an image (instant, ~10 ms; this
 * host has no reflink), growing it, and reading its facts. Growing the disk does not grow the guest's
 * filesystem: the guest does that (resize2fs) on boot.
 */
import { z } from 'zod';
import { BangerError } from '../../api/errors.js';
import { run } from '../../host/exec.js';
import type { DiskManager } from '../driver.js';

export type DiskFormat = 'qcow2' | 'raw';

export const DiskInfo = z
  .object({
    format: z.string(),
    'virtual-size': z.number(),
    'actual-size': z.number().optional(),
    'backing-filename': z.string().optional(),
    'backing-filename-format': z.string().optional(),
  })
  .passthrough();
export type DiskInfo = z.infer<typeof DiskInfo>;

export interface DiskToolOptions {
  /** @default 'qemu-img' */
  qemuImg?: string;
}

/** Parses `qemu-img info --output=json`. */
export function parseDiskInfo(json: string): DiskInfo {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new BangerError('internal', `qemu-img info printed something that is not JSON: ${json.slice(0, 200)}`, { cause: err });
  }
  return DiskInfo.parse(value);
}

export async function diskInfo(path: string, opts: DiskToolOptions = {}): Promise<DiskInfo> {
  // -U: read the header even while a running VM holds the image lock.
  const r = await run([opts.qemuImg ?? 'qemu-img', 'info', '-U', '--output=json', path]);
  return parseDiskInfo(r.stdout);
}

/**
 * Creates `dest`, a qcow2 overlay whose reads fall through to `base` until written. With `sizeBytes`,
 * the overlay is grown to that size (never shrunk below the base).
 */
export async function createOverlay(base: string, baseFormat: DiskFormat, dest: string, sizeBytes?: number, opts: DiskToolOptions = {}): Promise<void> {
  await run([opts.qemuImg ?? 'qemu-img', 'create', '-q', '-f', 'qcow2', '-b', base, '-F', baseFormat, dest]);
  if (sizeBytes !== undefined) await resizeDisk(dest, sizeBytes, opts);
}

/** Grows a (stopped VM's) disk to `sizeBytes`. Equal size is a no-op; shrinking is refused. */
export async function resizeDisk(path: string, sizeBytes: number, opts: DiskToolOptions & { format?: DiskFormat } = {}): Promise<void> {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) throw new BangerError('bad_request', `disk size must be a positive number of bytes, got ${sizeBytes}`);
  const info = await diskInfo(path, opts);
  const current = info['virtual-size'];
  if (sizeBytes === current) return;
  if (sizeBytes < current) {
    throw new BangerError('bad_request', `disk ${path} is ${current} bytes; shrinking it to ${sizeBytes} would lose data. Choose a size of at least ${current} bytes.`);
  }
  await run([opts.qemuImg ?? 'qemu-img', 'resize', '-q', '-f', opts.format ?? (info.format as DiskFormat), path, String(sizeBytes)]);
}

/** qcow2 overlays: instant per-VM copies (no reflink needed). */
export const qcow2Disks: DiskManager = {
  async createDisk(base, dest, sizeBytes) {
    const baseSize = (await diskInfo(base))['virtual-size'];
    await createOverlay(base, 'raw', dest, Math.max(sizeBytes, baseSize));
  },
  growDisk: (disk, sizeBytes) => resizeDisk(disk, sizeBytes),
  async usedBytes(disk) {
    try {
      return (await diskInfo(disk))['actual-size'] ?? null;
    } catch {
      return null;
    }
  },
};
