/**
 * Gathers the guest tools' binaries from Debian packages through banger's private apt (never the
 * host's own files, except its static busybox, which the initramfs already uses): the packages of
 * TOOL_PROGRAMS and the shared-library packages they reach through Depends/Pre-Depends are
 * downloaded (cached, sha256-checked by fetchDeb) and unpacked into a staging directory; the
 * programs' DT_NEEDED closure picks exactly the libraries to keep, and a library nobody provides
 * fails the build naming it. Returns the cpio entries of the tools tree (plan.ts).
 */
import { readFile, readdir, realpath } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { BangerError } from '../../api/errors.js';
import { noProgress, type Progress } from '../../api/progress.js';
import type { PrivateApt } from '../apt/apt.js';
import type { CpioEntry } from '../kernel/cpio.js';
import { aptShow, extractDeb, fetchDeb } from '../kernel/debian.js';
import { libraryClosure, neededLibraries } from './elfdeps.js';
import { LOADER, SEED_LIBRARY_PACKAGES, TOOL_PROGRAMS, followDependency, toolsEntries } from './plan.js';

export interface GatherToolsOptions {
  apt: PrivateApt;
  debCacheDir: string;
  /** An empty staging directory to unpack into (the caller removes it). */
  workDir: string;
  busybox: Buffer;
  progress?: Progress;
}

/** `apt-cache depends` output -> the direct Depends/Pre-Depends names of each package listed. */
export function parseAptDepends(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let cur: string[] | null = null;
  for (const line of text.split('\n')) {
    if (/^\S/.test(line)) {
      const name = line.trim();
      cur = name.startsWith('<') ? null : [];
      if (cur) out.set(name, cur);
      continue;
    }
    const m = /^\s+\|?(?:Pre)?Depends:\s+<?([^\s>]+)>?/.exec(line);
    if (m && cur) cur.push(m[1].replace(/:.*$/, ''));
  }
  return out;
}

/** Every package to fetch: the programs' packages, the seed libraries, and library deps reached from them. */
async function packageClosure(apt: PrivateApt): Promise<string[]> {
  const all = new Set<string>([...TOOL_PROGRAMS.map((p) => p.pkg), ...SEED_LIBRARY_PACKAGES]);
  let frontier = [...all];
  while (frontier.length > 0) {
    const r = await apt.run(['apt-cache', 'depends', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances', ...frontier]);
    const next: string[] = [];
    for (const deps of parseAptDepends(r.stdout).values()) {
      for (const d of deps) {
        if (!all.has(d) && followDependency(d)) {
          all.add(d);
          next.push(d);
        }
      }
    }
    frontier = next;
  }
  return [...all].sort();
}

async function firstFile(root: string, candidates: readonly string[]): Promise<string | null> {
  for (const c of candidates) {
    const p = await realpath(join(root, c)).catch(() => null);
    if (p && !relative(root, p).startsWith('..')) return p;
  }
  return null;
}

export async function gatherGuestTools(opts: GatherToolsOptions): Promise<CpioEntry[]> {
  const progress = opts.progress ?? noProgress;
  const { apt } = opts;
  await apt.ensureFresh(progress);
  const names = await packageClosure(apt);
  progress('guest-tools', `sshd, git, tar and their libraries from ${names.length} Debian packages`);
  const root = join(opts.workDir, 'tree');
  for (const name of names) {
    const pkg = await aptShow(apt, name, progress);
    const deb = await fetchDeb(apt, pkg, opts.debCacheDir, progress);
    await extractDeb(deb.path, root);
  }
  const realRoot = await realpath(root);

  // soname -> file, from the library directories of every unpacked package.
  const libFiles = new Map<string, string>();
  for (const dir of ['lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu']) {
    const entries = await readdir(join(realRoot, dir)).catch(() => [] as string[]);
    for (const e of entries) {
      if (!/\.so(\.|$)/.test(e) || libFiles.has(e)) continue;
      const p = await realpath(join(realRoot, dir, e)).catch(() => null);
      if (p && (p + sep).startsWith(realRoot + sep)) libFiles.set(e, p);
    }
  }
  const libBytes = new Map<string, Buffer>();
  const neededOf = new Map<string, string[]>();
  for (const [soname, file] of libFiles) {
    const data = await readFile(file);
    let needed: string[];
    try {
      needed = neededLibraries(data, soname).needed;
    } catch {
      continue; // a linker script or other non-ELF file named like a library
    }
    libBytes.set(soname, data);
    neededOf.set(soname, needed);
  }

  const programs = new Map<string, Buffer>();
  const roots: { name: string; needed: string[] }[] = [];
  for (const p of TOOL_PROGRAMS) {
    const file = await firstFile(realRoot, p.from);
    if (!file) throw new BangerError('internal', `Debian package ${p.pkg} has no ${p.from.join(' or ')}; the guest tools cannot be built`);
    const data = await readFile(file);
    programs.set(p.to, data);
    roots.push({ name: p.to, needed: neededLibraries(data, p.to).needed });
  }
  const keep = libraryClosure(roots, neededOf);
  const loaderFile = await firstFile(realRoot, [LOADER, 'lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', 'usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2']);
  if (!loaderFile) throw new BangerError('internal', 'libc6 has no ld-linux-x86-64.so.2; the guest tools cannot be built');
  const libraries = new Map(keep.map((s) => [s, libBytes.get(s)!] as const));
  return toolsEntries({ busybox: opts.busybox, loader: await readFile(loaderFile), libraries, programs });
}
