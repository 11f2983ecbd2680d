/**
 * Parsers for git's NUL-separated listings (`ls-files -z`, `diff --name-only -z`, `ls-files -s -z`)
 * and the path-safety check applied to every path that comes back from a guest.
 * Paths keep their raw bytes: a file name need not be UTF-8, and the tar list and git's stdin
 * must get exactly what git printed.
 */

/** A repo-relative path: the raw bytes git printed, and a text form for people and JSON. */
export interface RepoPath {
  path: string;
  raw: Buffer;
}

export const repoPath = (raw: Buffer): RepoPath => ({ path: raw.toString('utf8'), raw });
export const repoPathOf = (text: string): RepoPath => ({ path: text, raw: Buffer.from(text, 'utf8') });

/** Splits NUL-terminated records; a missing final NUL is tolerated, empty records are dropped. */
export function splitNul(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (;;) {
    const i = buf.indexOf(0, start);
    if (i < 0) {
      if (start < buf.length) out.push(buf.subarray(start));
      return out;
    }
    if (i > start) out.push(buf.subarray(start, i));
    start = i + 1;
  }
}

export const parsePathList = (buf: Buffer): RepoPath[] => splitNul(buf).map(repoPath);

/** NUL-terminated raw paths, as `tar --null -T` and `git update-index -z --stdin` read them. */
export function joinNul(paths: readonly RepoPath[]): Buffer {
  const parts: Buffer[] = [];
  for (const p of paths) parts.push(p.raw, Buffer.from([0]));
  return Buffer.concat(parts);
}

/** One line of `git ls-files -s -z`: `<mode> <object> <stage>\t<path>`. */
export interface IndexEntry extends RepoPath {
  /** Octal git mode: 100644, 100755, 120000 (symlink) or 160000 (submodule). */
  mode: string;
  object: string;
  stage: number;
}

export const GITLINK_MODE = '160000';

export function parseIndexEntries(buf: Buffer): IndexEntry[] {
  return splitNul(buf).map((rec) => {
    const tab = rec.indexOf(9);
    const head = tab < 0 ? '' : rec.subarray(0, tab).toString('latin1');
    const m = /^([0-7]{6}) ([0-9a-f]{40,64}) ([0-3])$/.exec(head);
    if (!m) throw new Error(`unexpected git ls-files -s record: ${JSON.stringify(rec.toString('utf8').slice(0, 200))}`);
    return { mode: m[1], object: m[2], stage: Number(m[3]), ...repoPath(rec.subarray(tab + 1)) };
  });
}

/** Unmerged paths appear once per stage: keep one entry per path, in git's order. */
export function uniqueByPath<T extends RepoPath>(entries: readonly T[]): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const e of entries) {
    const k = e.raw.toString('latin1');
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(e);
  }
  return out;
}

/**
 * Why a repo-relative path from untrusted output (a guest's diff) is refused, or null if safe:
 * relative, no `..` or `.` segment, nothing inside `.git`, no empty segment, no NUL or backslash.
 */
export function unsafePathReason(p: string): string | null {
  if (p.length === 0) return 'empty path';
  if (p.includes('\0')) return 'contains NUL';
  if (p.includes('\\')) return 'contains a backslash';
  if (p.startsWith('/')) return 'absolute path';
  const parts = p.split('/');
  if (parts.some((s) => s === '')) return 'empty path segment';
  if (parts.some((s) => s === '..' || s === '.')) return 'contains a "." or ".." segment';
  // Case-insensitive: on a case-insensitive host filesystem `.GIT/config` is `.git/config`.
  if (parts.some((s) => s.toLowerCase() === '.git')) return 'inside .git';
  return null;
}

/** One record of `git ls-tree -r -z -l`: `<mode> <type> <object> <size>\t<path>` (size `-` for gitlinks). */
export interface TreeEntry extends RepoPath {
  mode: string;
  type: 'blob' | 'commit' | 'tree';
  object: string;
  size: number;
}

export function parseTreeEntries(buf: Buffer): TreeEntry[] {
  return splitNul(buf).map((rec) => {
    const tab = rec.indexOf(9);
    const head = tab < 0 ? '' : rec.subarray(0, tab).toString('latin1');
    const m = /^([0-7]{6}) (blob|commit|tree) ([0-9a-f]{40,64}) +(\d+|-)$/.exec(head);
    if (!m) throw new Error(`unexpected git ls-tree record: ${JSON.stringify(rec.toString('utf8').slice(0, 200))}`);
    return { mode: m[1], type: m[2] as TreeEntry['type'], object: m[3], size: m[4] === '-' ? 0 : Number(m[4]), ...repoPath(rec.subarray(tab + 1)) };
  });
}

/** `git config -z --get-regexp` records: `key\nvalue\0`. */
export function parseConfigList(buf: Buffer): Array<{ key: string; value: string }> {
  return splitNul(buf).map((rec) => {
    const s = rec.toString('utf8');
    const nl = s.indexOf('\n');
    return nl < 0 ? { key: s, value: 'true' } : { key: s.slice(0, nl), value: s.slice(nl + 1) };
  });
}
