/**
 * `[[file_sync]]` planning (pure): validates each entry and expands `~` against the host user's
 * home and the guest's (root's) home. An invalid entry is refused naming its index, so a config
 * mistake never copies something unintended into every VM. The copying itself is vms/filesync.ts.
 */
import { posix } from 'node:path';
import { z } from 'zod';

/** One entry as written in config.toml. */
export const FileSyncEntryFile = z.object({
  host: z.string(),
  guest: z.string(),
  /** Octal, as a string ("0600", "644"); applied to a file; a directory keeps its modes. */
  mode: z.string().optional(),
});
export type FileSyncEntryFile = z.infer<typeof FileSyncEntryFile>;

/** A validated entry: absolute paths on both sides, the mode as a number. */
export const FileSyncEntry = z.object({
  index: z.number().int(),
  host: z.string(),
  guest: z.string(),
  mode: z.number().int(),
});
export type FileSyncEntry = z.infer<typeof FileSyncEntry>;

export const GUEST_HOME = '/root';
export const DEFAULT_FILE_MODE = 0o600;

function hasDotDot(p: string): boolean {
  return p.split('/').some((s) => s === '..');
}

/** `~` or `~/x` → under `home`; `/abs` stays; anything else (relative, `~user`, empty) is refused. */
function expandHost(p: string, home: string): { path: string } | { error: string } {
  if (p.trim() === '') return { error: 'host is empty' };
  if (hasDotDot(p)) return { error: `host ${JSON.stringify(p)} contains ".."` };
  if (p === '~' || p.startsWith('~/')) return { path: posix.normalize(posix.join(home, p.slice(1))) };
  if (p.startsWith('~')) return { error: `host ${JSON.stringify(p)}: only ~ (your own home) is supported, not ~user` };
  if (!p.startsWith('/')) return { error: `host ${JSON.stringify(p)} is relative: use an absolute path or ~/…` };
  return { path: posix.normalize(p) };
}

function expandGuest(p: string): { path: string } | { error: string } {
  if (p.trim() === '') return { error: 'guest is empty' };
  if (hasDotDot(p)) return { error: `guest ${JSON.stringify(p)} contains ".."` };
  let abs: string | null = null;
  if (p.startsWith('~/')) abs = posix.join(GUEST_HOME, p.slice(2));
  else if (p.startsWith(`${GUEST_HOME}/`)) abs = p;
  if (abs === null) return { error: `guest ${JSON.stringify(p)} must be ~/… or ${GUEST_HOME}/… (the guest user is root)` };
  const norm = posix.normalize(abs).replace(/\/+$/, '');
  if (norm === GUEST_HOME) return { error: `guest ${JSON.stringify(p)} names the home directory itself; name a file or directory inside it` };
  return { path: norm };
}

/** "0600", "644", "0o755" → number; null when not octal permission bits. */
export function parseMode(text: string): number | null {
  const m = /^(?:0o|0)?([0-7]{1,4})$/.exec(text.trim());
  return m ? parseInt(m[1], 8) : null;
}

/** Validates and expands every entry; throws an Error naming `file_sync[i]` for the first bad one. */
export function planFileSync(entries: readonly FileSyncEntryFile[], home: string): FileSyncEntry[] {
  return entries.map((e, index) => {
    const fail = (why: string): never => {
      throw new Error(`file_sync[${index}]: ${why}`);
    };
    const host = expandHost(e.host, home);
    if ('error' in host) return fail(host.error);
    const guest = expandGuest(e.guest);
    if ('error' in guest) return fail(guest.error);
    let mode = DEFAULT_FILE_MODE;
    if (e.mode !== undefined) {
      const m = parseMode(e.mode);
      if (m === null) return fail(`mode ${JSON.stringify(e.mode)} is not octal permission bits like "0600" or "0644"`);
      mode = m;
    }
    return { index, host: host.path, guest: guest.path, mode };
  });
}
