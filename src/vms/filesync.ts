/**
 * config.toml's `[[file_sync]]`, carried out: at every VM start (cold boot, restart, restore) the
 * configured host files and directories are copied into the guest as one tar stream into
 * `tar -x` over the daemon's SSH session. Every entry is owned root:root; a file gets the entry's
 * mode, a directory is copied recursively keeping its modes (symlinks stay symlinks, sockets and
 * devices are skipped). A missing host path is a progress warning and is skipped. Entries were
 * validated and expanded by config/filesync.ts; this module only does the I/O.
 */
import { lstat, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { buffer } from 'node:stream/consumers';
import tar from 'tar-stream';
import { BangerError } from '../api/errors.js';
import type { Progress } from '../api/progress.js';
import type { FileSyncEntry } from '../config/filesync.js';
import type { GuestSession } from '../guest/access.js';

/** One member of the stream: a path in the guest and what goes there. */
export type SyncItem =
  | { kind: 'dir'; guest: string; mode: number }
  | { kind: 'file'; guest: string; mode: number; body: Buffer }
  | { kind: 'symlink'; guest: string; target: string };

/** Most bytes one start copies (file_sync is for dotfiles and credentials, not data sets). */
export const MAX_SYNC_BYTES = 256 * 1024 * 1024;

/**
 * Everything `[[file_sync]]` copies, read in full before anything is sent (a host read error never
 * leaves a half-copied set in the guest), and the warnings (missing host paths). Reads the host only.
 */
export async function collectFileSync(entries: readonly FileSyncEntry[]): Promise<{ items: SyncItem[]; warnings: string[] }> {
  const items: SyncItem[] = [];
  const budget = { left: MAX_SYNC_BYTES };
  const warnings: string[] = [];
  for (const e of entries) {
    let st;
    try {
      st = await stat(e.host); // the entry itself may be a symlink: copy what it points at
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        warnings.push(`file_sync[${e.index}]: ${e.host} does not exist on the host; skipped`);
        continue;
      }
      throw new BangerError('bad_request', `file_sync[${e.index}]: cannot read ${e.host}: ${(err as Error).message}`, { cause: err });
    }
    try {
      if (st.isFile()) items.push({ kind: 'file', guest: e.guest, mode: e.mode, body: await readBody(e.host, budget) });
      else if (st.isDirectory()) await walk(e.host, e.guest, st.mode & 0o7777, items, budget);
      else warnings.push(`file_sync[${e.index}]: ${e.host} is neither a file nor a directory; skipped`);
    } catch (err) {
      throw new BangerError('bad_request', `file_sync[${e.index}]: ${(err as Error).message}; fix the entry in config.toml`, { cause: err });
    }
  }
  return { items, warnings };
}

async function readBody(path: string, budget: { left: number }): Promise<Buffer> {
  const body = await readFile(path);
  budget.left -= body.length;
  if (budget.left < 0) throw new Error(`more than ${MAX_SYNC_BYTES / 1024 / 1024} MiB to copy at ${path}`);
  return body;
}

async function walk(hostDir: string, guestDir: string, mode: number, out: SyncItem[], budget: { left: number }): Promise<void> {
  out.push({ kind: 'dir', guest: guestDir, mode });
  for (const name of (await readdir(hostDir)).sort()) {
    const h = join(hostDir, name);
    const g = posix.join(guestDir, name);
    const st = await lstat(h);
    if (st.isSymbolicLink()) out.push({ kind: 'symlink', guest: g, target: await readlink(h) });
    else if (st.isDirectory()) await walk(h, g, st.mode & 0o7777, out, budget);
    else if (st.isFile()) out.push({ kind: 'file', guest: g, mode: st.mode & 0o7777, body: await readBody(h, budget) });
  }
}

/** The tar archive of `items`: names relative to /, owner root:root, modes as given. In memory (bounded by MAX_SYNC_BYTES). */
export function packItems(items: readonly SyncItem[]): Promise<Buffer> {
  const pack = tar.pack();
  const owner = { uid: 0, gid: 0, uname: 'root', gname: 'root' };
  for (const it of items) {
    const name = it.guest.replace(/^\/+/, '');
    if (it.kind === 'dir') pack.entry({ ...owner, name, type: 'directory', mode: it.mode });
    else if (it.kind === 'symlink') pack.entry({ ...owner, name, type: 'symlink', linkname: it.target, mode: 0o777 });
    else pack.entry({ ...owner, name, type: 'file', mode: it.mode, size: it.body.length }, it.body);
  }
  pack.finalize();
  return buffer(pack); // tar-stream's streams are streamx ones: collect rather than pipe into ssh2

}

/** The guest side: extract at /, keeping the stream's owners and modes exactly. */
export const GUEST_EXTRACT = ['tar', '-x', '-p', '--same-owner', '--numeric-owner', '-C', '/', '-f', '-'] as const;

/** Copies `[[file_sync]]` into the guest. Missing host paths are warnings (progress); a failed copy throws. */
export async function syncFiles(session: GuestSession, entries: readonly FileSyncEntry[], vm: string, progress: Progress): Promise<{ copied: number; warnings: string[] }> {
  if (entries.length === 0) return { copied: 0, warnings: [] };
  const { items, warnings } = await collectFileSync(entries);
  for (const w of warnings) progress('file-sync', `warning: ${w}`);
  if (items.length === 0) return { copied: 0, warnings };
  progress('file-sync', `copying ${entries.length - warnings.length} file_sync entr${entries.length - warnings.length === 1 ? 'y' : 'ies'} into the guest`);
  const r = await session.run(GUEST_EXTRACT, { stdin: await packItems(items), timeoutMs: 120_000 });
  if (r.code !== 0) {
    throw new BangerError('internal', `VM "${vm}" is running but file_sync failed: tar in the guest exited ${r.code ?? r.signal}: ${r.stderr.trim().split('\n').slice(-3).join('; ')}`);
  }
  return { copied: items.length, warnings };
}
