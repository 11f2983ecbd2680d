import { z } from 'zod';

/** VM, image and kernel names: 1–63 of a–z, 0–9 and '-', not starting or ending with '-'. */
export const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export const Name = z.string().regex(NAME_PATTERN, {
  message: "names are 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-' (e.g. web-1)",
});

/**
 * The domain of VM names: banger answers `NAME.vm` (network/dns.ts), ssh_config has `Host NAME.vm`,
 * and banger's known_hosts keys each VM's host key by the same `NAME.vm` alias.
 */
export const VM_DOMAIN = 'vm';
/** A VM's host name and known_hosts alias: `NAME.vm`. The one place it is built. */
export const vmHostName = (name: string): string => `${name}.${VM_DOMAIN}`;

/** Sizes like 512M, 4G, 8GiB or a byte count; null when not one (or not a safe integer). */
export const SIZE_PATTERN = /^(\d+)\s*([kmgt]i?b?|b)?$/i;
export function parseSize(text: string): number | null {
  const m = SIZE_PATTERN.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  const mult = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[unit as 'b'];
  const bytes = n * mult;
  return Number.isSafeInteger(bytes) ? bytes : null; // "99999999999T" or 400 digits: not a size
}
export const Size = z.string().refine((s) => parseSize(s) !== null, { message: 'sizes look like 512M, 4G or 8GiB' });

export function formatBytes(n: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)}${units[i]}`;
}
