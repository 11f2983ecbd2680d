/**
 * Disk layers for snapshots, the contract snapshots/ uses (the qemu implementation is
 * qemu/layers.ts, wired by the daemon). A snapshot's frozen layer is a read-only file; every VM
 * restored from it, and the VM it was taken from, gets its own overlay on top.
 */

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
