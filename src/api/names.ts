import { z } from 'zod';
import { BangerError } from './errors.js';

/** VM, image and kernel names: 1–63 of a–z, 0–9 and '-', not starting or ending with '-'. */
export const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export const Name = z.string().regex(NAME_PATTERN, {
  message: "names are 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-' (e.g. web-1)",
});

/**
 * The domain of VM names: banger answers `NAME.vm` (network/dns.ts), ssh_config has `Host NAME.vm`,
 * and banger's known_hosts keys each VM's host key by the same `NAME.vm` alias.
 */
/** A MAC address as banger writes and checks it: six lower-case hex pairs. */
export const MAC_ADDRESS = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

export const VM_DOMAIN = 'vm';
/** A VM's host name and known_hosts alias: `NAME.vm`. The one place it is built. */
export const vmHostName = (name: string): string => `${name}.${VM_DOMAIN}`;

/** Sizes like 512M, 4G, 8GiB or a byte count; null when not one (or not a safe integer). */
export const SIZE_PATTERN = /^(\d+)\s*([kmgt]i?b?|b)?$/i;
export function parseSize(text: string): number | null {
  if (text.length > 64) return null; // no size is that long; never feed 400 digits to Number()
  const m = SIZE_PATTERN.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  const mult = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[unit as 'b'];
  const bytes = n * mult;
  return Number.isSafeInteger(bytes) ? bytes : null; // "99999999999T" or 400 digits: not a size
}

/** The smallest size any size option accepts (disks, images, config keys). */
export const MIN_SIZE_BYTES = 1024 ** 2;
/** The largest (16 TiB): bounded well inside the safe integers, and more than any disk here. */
export const MAX_SIZE_BYTES = 16 * 1024 ** 4;

/** Why `text` is not a size in [min, max] (a message naming the range), or null when it is one. */
export function sizeProblem(text: string, min = MIN_SIZE_BYTES, max = MAX_SIZE_BYTES): string | null {
  const n = parseSize(text);
  if (n !== null && n >= min && n <= max) return null;
  const shown = JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
  return `sizes look like 512M, 4G or 8GiB, from ${formatBytes(min)} to ${formatBytes(max)} (got ${shown})`;
}

/** A size string between `min` and `max` bytes; the error names the allowed range. */
export function boundedSize(min = MIN_SIZE_BYTES, max = MAX_SIZE_BYTES) {
  return z.string().superRefine((s, ctx) => {
    const problem = sizeProblem(s, min, max);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}
export const Size = boundedSize();

/** A CLI size flag checked before anything is sent: `bad_request` naming the flag and the range. */
export function checkSizeFlag(flag: string, value: string | undefined, min = MIN_SIZE_BYTES): void {
  const problem = value === undefined ? null : sizeProblem(value, min);
  if (problem) throw new BangerError('bad_request', `${flag} ${problem}`);
}
/** The smallest image file system `image build/import --size` makes. */
export const MIN_IMAGE_SIZE_BYTES = 16 * 1024 ** 2;
export const ImageSize = boundedSize(MIN_IMAGE_SIZE_BYTES);

/** Guest memory in MiB, for create, set and config (1 TiB at most: a typo, not a machine). */
export const MIN_MEMORY_MIB = 128;
export const MAX_MEMORY_MIB = 1024 * 1024;
export const MemoryMib = z
  .number()
  .int()
  .min(MIN_MEMORY_MIB, `memory is ${MIN_MEMORY_MIB} to ${MAX_MEMORY_MIB} MiB`)
  .max(MAX_MEMORY_MIB, `memory is ${MIN_MEMORY_MIB} to ${MAX_MEMORY_MIB} MiB`);

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
