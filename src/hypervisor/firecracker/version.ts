/**
 * `firecracker --version` parsing and the support policy. Pure; table-tested.
 *
 * Policy: 1.5 is the oldest release banger drives (the request bodies stay inside what 1.5 accepts);
 * 1.5 – 1.14 is the range the contract tests pin (the API spec in spec/ is 1.14.1). Newer releases
 * are allowed with a warning. Features that arrived later are gated here by named versions.
 */

export interface FirecrackerVersion {
  major: number;
  minor: number;
  patch: number;
  /** The version text as printed, e.g. "1.14.1" or "1.10.0-dev". */
  text: string;
}

export const MIN_VERSION = { major: 1, minor: 5 } as const;
/** Inclusive range of minor releases the contract tests cover. */
export const TESTED_RANGE = { from: { major: 1, minor: 5 }, to: { major: 1, minor: 14 } } as const;
/** ACPI device discovery on x86_64; before it the guest needs virtio_mmio.device= on its command line. */
export const ACPI_SINCE = { major: 1, minor: 8 } as const;
/**
 * `network_overrides` in PUT /snapshot/load (firecracker PR #4731). Public notes disagree on whether it
 * shipped in 1.12 or 1.13; 1.13 is the safe side: an older binary rejects the unknown field.
 */
export const NETWORK_OVERRIDES_SINCE = { major: 1, minor: 13 } as const;

/** Finds "Firecracker v1.14.1" in `firecracker --version` output (older releases print more lines after it). */
export function parseFirecrackerVersion(output: string): FirecrackerVersion | null {
  const m = /Firecracker v?(\d+)\.(\d+)\.(\d+)([-+][0-9A-Za-z.+-]*)?/.exec(output);
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), text: `${m[1]}.${m[2]}.${m[3]}${m[4] ?? ''}` };
}

type MajorMinor = { major: number; minor: number };

export function atLeast(v: MajorMinor, min: MajorMinor): boolean {
  return v.major > min.major || (v.major === min.major && v.minor >= min.minor);
}

export interface VersionVerdict {
  /** ok: supported and tested; warn: runs, outside what is tested or missing a feature; error: refused. */
  level: 'ok' | 'warn' | 'error';
  /** Sentences a person can act on; empty when level is ok. */
  messages: string[];
}

const fmt = (v: MajorMinor) => `${v.major}.${v.minor}`;

export function checkFirecrackerVersion(v: FirecrackerVersion): VersionVerdict {
  if (!atLeast(v, MIN_VERSION)) {
    return {
      level: 'error',
      messages: [`Firecracker ${v.text} is too old: banger needs ${fmt(MIN_VERSION)} or newer; install a current release or set hypervisor = "qemu"`],
    };
  }
  const messages: string[] = [];
  if (!atLeast(v, ACPI_SINCE)) {
    messages.push(
      `Firecracker ${v.text} has no ACPI device discovery (added in ${fmt(ACPI_SINCE)}); the Debian cloud kernel banger uses finds no virtio devices without it: upgrade Firecracker`,
    );
  }
  if (atLeast(v, { major: TESTED_RANGE.to.major, minor: TESTED_RANGE.to.minor + 1 })) {
    messages.push(`Firecracker ${v.text} is newer than the tested range ${fmt(TESTED_RANGE.from)} – ${fmt(TESTED_RANGE.to)}; it should work, report problems`);
  }
  return { level: messages.length ? 'warn' : 'ok', messages };
}
