/**
 * Guest file metadata from `find -printf` (pure): the format string the guest runs and the parser
 * for its NUL-separated records. Shared by every surface that lists or stats guest files (the E2B
 * endpoint, MCP), so they all read the same fields the same way.
 */

export type GuestFileType = 'file' | 'dir' | 'symlink' | 'other';

export interface GuestEntry {
  name: string;
  path: string;
  type: GuestFileType;
  size: number;
  /** st_mode: type bits and permission bits. */
  mode: number;
  /** `-rw-r--r--` style. */
  permissions: string;
  owner: string;
  group: string;
  /** Milliseconds since the epoch. */
  mtimeMs: number;
  symlinkTarget?: string;
}

/** Fields per record, each ended by NUL: type, size, octal mode, owner, group, mtime, link target, path. */
export const FIND_PRINTF = '%y\\0%s\\0%m\\0%u\\0%g\\0%T@\\0%l\\0%p\\0';
const FIELDS = 8;

const TYPE_BITS: Record<string, number> = { f: 0o100000, d: 0o040000, l: 0o120000, p: 0o010000, s: 0o140000, c: 0o020000, b: 0o060000 };
const TYPE_CHAR: Record<string, string> = { f: '-', d: 'd', l: 'l', p: 'p', s: 's', c: 'c', b: 'b' };

export function permissionString(kind: string, perm: number): string {
  const rwx = (bits: number, special: boolean, specialChar: string) =>
    `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${special ? (bits & 1 ? specialChar : specialChar.toUpperCase()) : bits & 1 ? 'x' : '-'}`;
  return (
    (TYPE_CHAR[kind] ?? '?') +
    rwx((perm >> 6) & 7, (perm & 0o4000) !== 0, 's') +
    rwx((perm >> 3) & 7, (perm & 0o2000) !== 0, 's') +
    rwx(perm & 7, (perm & 0o1000) !== 0, 't')
  );
}

function baseName(p: string): string {
  if (p === '/') return '/';
  const t = p.replace(/\/+$/, '');
  return t.slice(t.lastIndexOf('/') + 1);
}

/** Parses `find ... -printf FIND_PRINTF` output; a truncated trailing record is dropped. */
export function parseFindOutput(out: Buffer | string): GuestEntry[] {
  const parts = (typeof out === 'string' ? out : out.toString('utf8')).split('\0');
  const entries: GuestEntry[] = [];
  // Every field ends with NUL, so a complete output splits into 8n fields and one trailing empty string.
  const records = Math.floor((parts.length - 1) / FIELDS);
  for (let r = 0; r < records; r++) {
    const [kind, size, mode, owner, group, mtime, link, path] = parts.slice(r * FIELDS, r * FIELDS + FIELDS) as [string, string, string, string, string, string, string, string];
    const perm = parseInt(mode, 8) || 0;
    entries.push({
      name: baseName(path),
      path,
      type: kind === 'f' ? 'file' : kind === 'd' ? 'dir' : kind === 'l' ? 'symlink' : 'other',
      size: Number(size) || 0,
      mode: (TYPE_BITS[kind] ?? 0) | perm,
      permissions: permissionString(kind, perm),
      owner,
      group,
      mtimeMs: Math.round(Number(mtime) * 1000) || 0,
      ...(kind === 'l' ? { symlinkTarget: link } : {}),
    });
  }
  return entries;
}
