/** Names banger gives snapshots and fork children. Pure. */
import { BangerError } from '../api/errors.js';
import { NAME_PATTERN } from '../api/names.js';

const MAX_NAME = 63;

/** NAME for one child; NAME-1 ... NAME-N for several. */
export function forkNames(base: string, count: number): string[] {
  if (!Number.isInteger(count) || count < 1) throw new BangerError('bad_request', `--count must be a positive whole number, got ${count}`);
  const names = count === 1 ? [base] : Array.from({ length: count }, (_, i) => `${base}-${i + 1}`);
  const bad = names.find((n) => !NAME_PATTERN.test(n));
  if (bad !== undefined) {
    throw new BangerError('bad_request', `"${bad}" is not a valid VM name (1-63 of a-z, 0-9, '-'); pick a shorter --name`);
  }
  return names;
}

/** `<vm>-<yyyymmdd-hhmmss>` (UTC), the VM part shortened so the whole stays a valid name. */
export function autoSnapshotName(vmName: string, at: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${at.getUTCFullYear()}${p(at.getUTCMonth() + 1)}${p(at.getUTCDate())}-${p(at.getUTCHours())}${p(at.getUTCMinutes())}${p(at.getUTCSeconds())}`;
  const head = vmName.slice(0, MAX_NAME - stamp.length - 1).replace(/-+$/, '');
  return head ? `${head}-${stamp}` : stamp;
}

/** Makes `name` unique against `taken` by appending -2, -3, ... */
export function uniqueName(name: string, taken: (n: string) => boolean): string {
  if (!taken(name)) return name;
  for (let i = 2; ; i++) {
    const suffix = `-${i}`;
    const candidate = `${name.slice(0, MAX_NAME - suffix.length).replace(/-+$/, '')}${suffix}`;
    if (!taken(candidate)) return candidate;
  }
}

/** The warm snapshot of an image. The colon keeps it out of the user's name space (names never have one). */
export function warmName(image: string): string {
  return `warm:${image}`;
}

/** A warm snapshot that was replaced but still has VMs on its layer: kept under this name until they go. */
export function staleWarmName(image: string, id: string): string {
  return `warm:${image}:stale-${id}`;
}

export const isWarmName = (name: string): boolean => name.startsWith('warm:');
