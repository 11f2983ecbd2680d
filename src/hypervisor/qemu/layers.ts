/** Snapshot disk layers (hypervisor/layers.ts LayerOps) with qemu-img over qcow2 files. */
import { chmod } from 'node:fs/promises';
import { run } from '../../host/exec.js';
import type { LayerOps } from '../layers.js';
import { parseDiskInfo } from './disk.js';

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
