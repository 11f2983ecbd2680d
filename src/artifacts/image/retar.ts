/**
 * The guest customisation (guestfiles.ts) applied to a root file system while it streams as a tar
 * from the bootstrap into its extraction, instead of to a tree on disk afterwards. Editing the
 * stream means the extracted tree is never touched outside the ownership keeper (keeper.ts): a
 * file replaced behind fakeroot's back could inherit the owner of the inode it reuses. Added and
 * replaced entries are root:root; owner overrides fix entries the bootstrap got wrong.
 * `planCustomisation` and `missingParents` are pure; `patchTarStream` does the streaming.
 */
import { dirname, basename } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { BangerError } from '../../api/errors.js';
import type { GuestCustomisation } from './guestfiles.js';
import { normalizeEntryName } from './tarsafety.js';

export interface TarAddition {
  /** Root-relative, no leading '/'. */
  path: string;
  type: 'file' | 'symlink' | 'directory';
  mode: number;
  content?: string;
  linkname?: string;
}

export interface OwnerOverride {
  uid: number;
  gid: number;
  mode?: number;
}

export interface TarPlan {
  /** Entries of the input left out (replaced or removed). */
  drop(path: string): boolean;
  /** Owner/mode rewrites for entries kept. */
  overrides: ReadonlyMap<string, OwnerOverride>;
  /** Appended after the input, root:root, in order. */
  additions: readonly TarAddition[];
}

/** The tar edits for a customisation plan, plus owner overrides. Pure. */
export function planCustomisation(plan: GuestCustomisation, overrides: ReadonlyMap<string, OwnerOverride> = new Map()): TarPlan {
  const replaced = new Set([...plan.files.map((f) => f.path), ...plan.links.map((l) => l.path), ...plan.remove]);
  return {
    drop: (path) => replaced.has(path) || plan.removeMatching.some(({ dir, pattern }) => dirname(path) === dir && pattern.test(basename(path))),
    overrides,
    additions: [
      ...plan.files.map((f): TarAddition => ({ path: f.path, type: 'file', mode: f.mode, content: f.content })),
      ...plan.links.map((l): TarAddition => ({ path: l.path, type: 'symlink', mode: 0o777, linkname: l.target })),
    ],
  };
}

/**
 * The mode to hand tar-stream's packer: it replaces a falsy mode with 0644/0755, so a file of mode
 * 0000 would gain permissions. A bit above the 12 it encodes keeps the value truthy and is dropped.
 */
export function packMode(mode: number | undefined): number | undefined {
  return mode !== undefined && (mode & 0o7777) === 0 ? mode | 0o100000 : mode;
}

/** Parent directories of `path` not in `seen`, outermost first. Pure. */
export function missingParents(path: string, seen: ReadonlySet<string>): string[] {
  const parts = path.split('/').slice(0, -1);
  const out: string[] = [];
  for (let i = 1; i <= parts.length; i++) {
    const p = parts.slice(0, i).join('/');
    if (!seen.has(p)) out.push(p);
  }
  return out;
}

export interface PatchStats {
  entries: number;
  dropped: number;
  added: number;
}

/**
 * Copies the tar from `input` to `output` with `plan` applied. Names are normalised (no leading
 * `./`); a hard link to a dropped entry is an error (the link would dangle).
 */
export async function patchTarStream(input: Readable, output: Writable, plan: TarPlan): Promise<PatchStats> {
  const extract = tar.extract();
  const pack = tar.pack();
  const written = pipeline(pack, output);
  const read = pipeline(input, extract);
  written.catch(() => {});
  read.catch(() => {});
  const seen = new Set<string>(['']);
  const dropped = new Set<string>();
  const stats: PatchStats = { entries: 0, dropped: 0, added: 0 };
  try {
    for await (const entry of extract) {
      const h = entry.header;
      const norm = normalizeEntryName(h.name);
      if ('reason' in norm) throw new BangerError('internal', `the bootstrap tar has an unusable entry ${JSON.stringify(h.name)}: ${norm.reason}`);
      const path = norm.path;
      if (path !== '' && plan.drop(path)) {
        dropped.add(path);
        stats.dropped++;
        entry.resume();
        continue;
      }
      let linkname = h.linkname ?? undefined;
      if (h.type === 'link') {
        const t = normalizeEntryName(h.linkname ?? '');
        if ('reason' in t || dropped.has(t.path)) {
          throw new BangerError('internal', `the bootstrap tar hard-links ${path} to ${h.linkname}, which the customisation removes`);
        }
        linkname = t.path;
      }
      const o = plan.overrides.get(path);
      seen.add(path);
      stats.entries++;
      const header: Partial<tar.Header> & { name: string } = {
        name: path === '' ? '.' : path,
        type: h.type,
        mode: packMode(o?.mode ?? h.mode),
        uid: o?.uid ?? h.uid,
        gid: o?.gid ?? h.gid,
        mtime: h.mtime,
        size: h.type === 'file' || h.type === 'contiguous-file' ? h.size : 0,
        linkname,
        devmajor: h.devmajor,
        devminor: h.devminor,
      };
      await pipeline(entry, pack.entry(header));
    }
    const now = new Date();
    for (const a of plan.additions) {
      for (const dir of missingParents(a.path, seen)) {
        pack.entry({ name: dir, type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: now });
        seen.add(dir);
      }
      const body = Buffer.from(a.type === 'file' ? (a.content ?? '') : '', 'utf8');
      pack.entry({ name: a.path, type: a.type, mode: packMode(a.mode), uid: 0, gid: 0, mtime: now, linkname: a.linkname, size: body.length }, body);
      seen.add(a.path);
      stats.added++;
    }
    pack.finalize();
    await Promise.all([read, written]);
    return stats;
  } catch (err) {
    pack.destroy();
    extract.destroy();
    input.destroy();
    throw err;
  }
}
