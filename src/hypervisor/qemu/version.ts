/** Parses `qemu-system-x86_64 --version` / `qemu-img --version`. Pure, table-tested. */
import { BangerError } from '../../api/errors.js';

export interface QemuVersion {
  /** `major.minor.micro` */
  version: string;
  major: number;
  minor: number;
  micro: number;
  /** The distribution's package string in parentheses, when present. */
  package?: string;
}

export function parseQemuVersion(output: string): QemuVersion {
  const m = /version (\d+)\.(\d+)(?:\.(\d+))?(?:\s*\(([^)]*)\))?/.exec(output);
  if (!m) throw new BangerError('unavailable', `cannot read the QEMU version from: ${output.trim().split('\n')[0] ?? ''}`);
  const [major, minor, micro] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  return { version: `${major}.${minor}.${micro}`, major, minor, micro, ...(m[4] ? { package: m[4].trim() } : {}) };
}

/** Is `v` at least `major.minor`? */
export function atLeast(v: QemuVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}
