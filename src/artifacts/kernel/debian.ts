/**
 * Debian kernel packages through banger's private apt (apt/apt.ts; never the host's sources):
 * resolve a metapackage to the versioned image package, download the .deb (cached, checked
 * against the archive's sha256) and unpack it without installing it. Parsers are pure; the rest
 * runs apt-cache/apt-get/dpkg-deb.
 */
import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { AvailableKernel } from '../../api/kernel.js';
import { BangerError } from '../../api/errors.js';
import { type Progress, noProgress } from '../../api/progress.js';
import { run } from '../../host/exec.js';
import type { PrivateApt } from '../apt/apt.js';
import { hashFile } from '../digest.js';
import { cleanStaleStagingIn, createStagingIn } from '../staging.js';

/** Kernel names `kernel pull` knows, and the Debian metapackage each follows. */
export const KERNEL_SOURCES: Readonly<Record<string, { metaPackage: string; description: string }>> = {
  'debian-cloud': { metaPackage: 'linux-image-cloud-amd64', description: "Debian's cloud kernel (virtio as modules)" },
};

export interface AptPackage {
  package: string;
  version: string;
  architecture?: string;
  /** Package names from Depends (version constraints dropped, first of each alternative). */
  depends: string[];
  /** Pool path, e.g. pool/updates/main/l/linux-signed-amd64/linux-image-..._amd64.deb. */
  filename?: string;
  size?: number;
  sha256?: string;
}

/** Parses the first stanza of `apt-cache show` output. */
export function parseAptShow(text: string): AptPackage | null {
  const stanza = text.split(/\n\s*\n/)[0] ?? '';
  const fields = new Map<string, string>();
  let last: string | undefined;
  for (const line of stanza.split('\n')) {
    if (/^\s/.test(line) && last) {
      fields.set(last, `${fields.get(last)}\n${line.trim()}`);
      continue;
    }
    const m = /^([A-Za-z0-9-]+):\s?(.*)$/.exec(line);
    if (m) {
      last = m[1].toLowerCase();
      fields.set(last, m[2]);
    }
  }
  const pkg = fields.get('package');
  const version = fields.get('version');
  if (!pkg || !version) return null;
  const size = fields.get('size');
  return {
    package: pkg,
    version,
    architecture: fields.get('architecture'),
    depends: parseDependsField(fields.get('depends') ?? ''),
    filename: fields.get('filename'),
    size: size ? Number(size) : undefined,
    sha256: fields.get('sha256'),
  };
}

/** `a (>= 1), b | c, d:any` -> [a, b, d]. */
export function parseDependsField(value: string): string[] {
  return value
    .split(',')
    .map((alt) => alt.split('|')[0].trim().split(/[\s(]/)[0].replace(/:.*$/, ''))
    .filter((n) => n !== '');
}

async function showOnce(apt: PrivateApt, pkg: string): Promise<{ parsed: AptPackage | null; stderr: string }> {
  const r = await apt.run(['apt-cache', 'show', '--no-all-versions', pkg], { check: false });
  return { parsed: r.code === 0 ? parseAptShow(r.stdout) : null, stderr: r.stderr.trim() };
}

/**
 * The candidate version of a package in banger's Debian lists. Stale lists are refreshed first; a
 * package not found triggers one refresh and a second look (it may be newer than the lists).
 */
export async function aptShow(apt: PrivateApt, pkg: string, progress: Progress = noProgress): Promise<AptPackage> {
  const before = await apt.listsUpdatedAt();
  await apt.ensureFresh(progress);
  let r = await showOnce(apt, pkg);
  if (!r.parsed && before !== null && (await apt.listsUpdatedAt()) === before) {
    await apt.update(progress);
    r = await showOnce(apt, pkg);
  }
  if (!r.parsed) {
    throw new BangerError('unavailable', `the Debian archive has no package ${pkg} (banger's own package lists in ${apt.layout.dir}, just refreshed)`, {
      details: { package: pkg, stderr: r.stderr },
    });
  }
  return r.parsed;
}

/** Resolves a kernel metapackage (linux-image-cloud-amd64) to the versioned image package it depends on. */
export async function resolveKernelPackage(apt: PrivateApt, metaPackage: string, progress: Progress = noProgress): Promise<AptPackage> {
  const meta = await aptShow(apt, metaPackage, progress);
  const target = meta.depends.find((d) => d.startsWith('linux-image-'));
  if (!target) {
    throw new BangerError('internal', `${metaPackage} ${meta.version} depends on no linux-image package (depends: ${meta.depends.join(', ')})`);
  }
  return aptShow(apt, target, progress);
}

/** The name the .deb is cached under. */
export function debFileName(pkg: AptPackage): string {
  if (pkg.filename) return basename(pkg.filename);
  return `${pkg.package}_${pkg.version.replace(/:/g, '%3a')}_${pkg.architecture ?? 'amd64'}.deb`;
}

async function matchesArchive(path: string, pkg: AptPackage): Promise<boolean> {
  try {
    const st = await stat(path);
    if (pkg.size !== undefined && st.size !== pkg.size) return false;
    if (pkg.sha256) return (await hashFile(path)).sha256 === pkg.sha256;
    return st.size > 0;
  } catch {
    return false;
  }
}

const DOWNLOAD_PREFIX = '.download';

/**
 * The package's .deb in `cacheDir`: reused when a file of that name matches the archive's size and
 * sha256, else downloaded with `apt-get download` into a private directory and renamed into place.
 */
export async function fetchDeb(apt: PrivateApt, pkg: AptPackage, cacheDir: string, progress: Progress = noProgress): Promise<{ path: string; cached: boolean }> {
  const target = join(cacheDir, debFileName(pkg));
  if (await matchesArchive(target, pkg)) return { path: target, cached: true };
  await mkdir(cacheDir, { recursive: true });
  await cleanStaleStagingIn(cacheDir, DOWNLOAD_PREFIX);
  const staging = await createStagingIn(cacheDir, DOWNLOAD_PREFIX, 'deb');
  const tmp = staging.dir;
  try {
    progress('download', `${pkg.package} ${pkg.version}${pkg.size ? ` (${Math.round(pkg.size / 1048576)} MB)` : ''}`);
    await apt.run(['apt-get', 'download', `${pkg.package}=${pkg.version}`], { cwd: tmp }).catch((err) => {
      throw new BangerError('unavailable', `cannot download ${pkg.package} ${pkg.version}: ${(err as Error).message}`, { cause: err });
    });
    const debs = (await readdir(tmp)).filter((n) => n.endsWith('.deb'));
    if (debs.length !== 1) throw new BangerError('internal', `apt-get download left ${debs.length} .deb files in ${tmp}`);
    const got = join(tmp, debs[0]);
    if (!(await matchesArchive(got, pkg))) {
      throw new BangerError('internal', `the downloaded ${debs[0]} does not match the archive's size/sha256; try again (or run \`apt-get update\`)`);
    }
    await rename(got, target);
    return { path: target, cached: false };
  } finally {
    await staging.remove();
  }
}

/** Unpacks a .deb's files into `dir` (no maintainer scripts, nothing installed). */
export async function extractDeb(debPath: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await run(['dpkg-deb', '-x', debPath, dir]);
}

/** What `kernel list --available` shows: each known name and the package it resolves to now. */
export async function listAvailable(apt: PrivateApt): Promise<AvailableKernel[]> {
  const out: AvailableKernel[] = [];
  let firstError: unknown;
  for (const [name, source] of Object.entries(KERNEL_SOURCES)) {
    try {
      const pkg = await resolveKernelPackage(apt, source.metaPackage);
      out.push({ name, package: pkg.package, version: pkg.version });
    } catch (err) {
      if (!(err instanceof BangerError) || err.code !== 'unavailable') throw err;
      firstError ??= err;
    }
  }
  // One source missing from the archive is fine; none at all means apt itself needs attention.
  if (out.length === 0 && firstError) throw firstError;
  return out;
}
