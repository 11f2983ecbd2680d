/** Per-VM disks: a qcow2 overlay on the image (instant; no reflink on these hosts). */
import { run } from '../host/exec.js';

export interface DiskOps {
  createOverlay(baseRaw: string, dest: string, sizeBytes: number): Promise<void>;
  resize(disk: string, sizeBytes: number): Promise<void>;
  usedBytes(disk: string): Promise<number | null>;
}

export const qemuImgDisks: DiskOps = {
  async createOverlay(baseRaw, dest, sizeBytes) {
    await run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', baseRaw, '-F', 'raw', dest, String(sizeBytes)]);
  },
  async resize(disk, sizeBytes) {
    await run(['qemu-img', 'resize', '-q', disk, String(sizeBytes)]);
  },
  async usedBytes(disk) {
    const r = await run(['qemu-img', 'info', '--output=json', '-U', disk], { check: false });
    if (r.code !== 0) return null;
    return (JSON.parse(r.stdout) as { 'actual-size'?: number })['actual-size'] ?? null;
  },
};
