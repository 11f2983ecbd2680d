/**
 * Disk layers for snapshots (qemu-img). A snapshot's frozen layer is a read-only qcow2 file; every
 * VM restored from it, and the VM it was taken from, gets its own overlay on top.
 */
import { chmod } from 'node:fs/promises';
import { run } from '../host/exec.js';
import { parseDiskInfo } from '../hypervisor/qemu/disk.js';

export interface LayerOps {
  /**
   * Creates `dest`, an empty qcow2 overlay on the qcow2 layer `base`, of `sizeBytes`.
   * `unsafe` skips opening the base (needed while a running VM holds its write lock).
   */
  overlayOn(base: string, dest: string, sizeBytes: number, opts?: { unsafe?: boolean }): Promise<void>;
  /** The disk's virtual size in bytes. */
  virtualSize(path: string): Promise<number>;
  /** Host bytes the file uses, or null. */
  usedBytes(path: string): Promise<number | null>;
  /** Marks a frozen layer read-only on the host too (nothing may write it again). */
  seal(path: string): Promise<void>;
}

export function qemuImgLayers(qemuImg = 'qemu-img'): LayerOps {
  const info = async (path: string) => parseDiskInfo((await run([qemuImg, 'info', '-U', '--output=json', path])).stdout);
  return {
    async overlayOn(base, dest, sizeBytes, opts = {}) {
      await run([qemuImg, 'create', '-q', '-f', 'qcow2', ...(opts.unsafe ? ['-u'] : []), '-b', base, '-F', 'qcow2', dest, String(sizeBytes)]);
    },
    async virtualSize(path) {
      return (await info(path))['virtual-size'];
    },
    async usedBytes(path) {
      try {
        return (await info(path))['actual-size'] ?? null;
      } catch {
        return null;
      }
    },
    async seal(path) {
      await chmod(path, 0o444);
    },
  };
}
