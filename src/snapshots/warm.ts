/**
 * Warm start decisions. Pure: whether a `vm create` may restore the image's warm snapshot instead
 * of booting, and whether the cached snapshot still matches what it would be built from. Every
 * image has its own (`warm:<image>`): the first fitting create of an image builds it, later ones
 * restore it, whatever the image (banger's Debian image, an import, an OCI image).
 *
 * A warm snapshot is a memory image of one freshly booted template VM. It can only stand in for a
 * boot of the same image, kernel, vCPU count, memory size and disk size (the guest saw those at its
 * boot), under the same hypervisor and accelerator, with the install's current SSH key in it.
 */
import type { NetworkMode } from '../api/enums.js';
import { createHash } from 'node:crypto';

/** Bump when the template or the restore path changes in a way that needs new warm snapshots. */
export const WARM_FORMAT = 3; // 2: the template's RAM is a file restores map copy-on-write; 3: and it has the bulk channel (virtio-serial)

export interface WarmKeyInput {
  imageSha: string;
  kernelSha: string;
  vcpu: number;
  memoryMib: number;
  diskSizeBytes: number;
  accel: string;
  hypervisor: string;
  hypervisorVersion: string;
  /** The install's public key blob (the template's authorized_keys). */
  sshKeyBlob: string;
}

export function warmKey(input: WarmKeyInput): string {
  const fields = [
    `format=${WARM_FORMAT}`,
    `image=${input.imageSha}`,
    `kernel=${input.kernelSha}`,
    `vcpu=${input.vcpu}`,
    `memory=${input.memoryMib}`,
    `disk=${input.diskSizeBytes}`,
    `accel=${input.accel}`,
    `hypervisor=${input.hypervisor}/${input.hypervisorVersion}`,
    `key=${input.sshKeyBlob}`,
  ];
  return createHash('sha256').update(fields.join('\n')).digest('hex');
}

export interface WarmRequest {
  /** --cold */
  cold: boolean;
  /** --image as given (undefined: the default). Any image has a warm snapshot of its own. */
  image: string | undefined;
  defaultImage: string;
  vcpu: number | undefined;
  memoryMib: number | undefined;
  diskSizeBytes: number | undefined;
  network: NetworkMode;
  /** The sizes a warm snapshot is built with (config vm_defaults). */
  defaults: { vcpu: number; memoryMib: number; diskSizeBytes: number };
  /** Why the hypervisor cannot restore snapshots here, or null when it can. */
  unsupported: string | null;
}

/**
 * `warm`: restore the image's warm snapshot. `cold` with a reason for the progress line, or with
 * `reason: null` when nothing is worth saying (--cold, a driver without snapshots).
 */
export type WarmDecision = { mode: 'warm' } | { mode: 'cold'; reason: string | null };

const mib = (b: number) => `${Math.round(b / 1024 ** 2)} MiB`;

export function decideWarm(r: WarmRequest): WarmDecision {
  if (r.cold) return { mode: 'cold', reason: null };
  // A driver that cannot snapshot at all boots every VM; saying so on every create would be noise.
  if (r.unsupported) return { mode: 'cold', reason: null };
  if (r.network !== 'user') return { mode: 'cold', reason: 'cold boot: warm start covers user-mode networking only' };
  const d = r.defaults;
  if (r.vcpu !== undefined && r.vcpu !== d.vcpu) {
    return { mode: 'cold', reason: `cold boot: the warm snapshot has ${d.vcpu} vCPU (config vm_defaults), --vcpu asks for ${r.vcpu}` };
  }
  if (r.memoryMib !== undefined && r.memoryMib !== d.memoryMib) {
    return { mode: 'cold', reason: `cold boot: the warm snapshot has ${d.memoryMib} MiB of memory (config vm_defaults), --memory asks for ${r.memoryMib}` };
  }
  if (r.diskSizeBytes !== undefined && r.diskSizeBytes !== d.diskSizeBytes) {
    return { mode: 'cold', reason: `cold boot: the warm snapshot has a ${mib(d.diskSizeBytes)} disk (config vm_defaults), --disk-size asks for ${mib(r.diskSizeBytes)}` };
  }
  return { mode: 'warm' };
}

/** What to do with the cached warm snapshot of an image, given the key it should have. */
export type WarmCacheAction = 'use' | 'build' | 'replace';

export function warmCacheAction(cached: { warmKey: string | undefined } | null, wanted: string): WarmCacheAction {
  if (!cached) return 'build';
  return cached.warmKey === wanted ? 'use' : 'replace';
}
