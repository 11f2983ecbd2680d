/**
 * Finds the symlinks a git patch would create or change, and refuses those pointing outside the
 * repo (pure, streaming). `export --apply` runs it on the guest's patch before git sees it: git
 * would create a link to `/etc` or `../../x` as asked, and a later write through it lands on the
 * host outside the repo.
 *
 * Conservative by construction: header lines are recognised wherever they appear (a hunk's
 * content lines start with ' ', '+', '-' or '\', so a line starting `new mode ` can only be a
 * header); a section whose final mode is 120000 must carry exactly one content line (the target)
 * in one text hunk, or it is refused as unverifiable; renames and copies are refused outright
 * (banger's export never makes them, and a copied link would resolve from a new directory).
 * Lines are bounded: only the first MAX_LINE bytes of a line are kept.
 */
import { posix } from 'node:path';

const MAX_LINE = 16 * 1024;
const LINK = '120000';

export interface LinkProblem {
  path: string;
  why: string;
}

interface Section {
  path: string | null;
  newMode: string | null;
  indexMode: string | null;
  deleted: boolean;
  binary: boolean;
  hunks: number;
  inHunk: boolean;
  content: string[];
  truncated: boolean;
}

export class PatchLinkScanner {
  readonly problems: LinkProblem[] = [];
  /** Paths whose final mode the patch states (or that it deletes): the rest keep the mode they have. */
  readonly statedMode = new Set<string>();
  #line: Buffer[] = [];
  #lineLen = 0;
  #lineTruncated = false;
  #sec: Section | null = null;

  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(10, pos);
      const end = nl < 0 ? chunk.length : nl;
      const room = MAX_LINE - this.#lineLen;
      if (end - pos > room) this.#lineTruncated = true;
      const take = Math.min(end - pos, Math.max(room, 0));
      if (take > 0) {
        this.#line.push(Buffer.from(chunk.subarray(pos, pos + take)));
        this.#lineLen += take;
      }
      if (nl < 0) return;
      this.#flushLine();
      pos = nl + 1;
    }
  }

  /** Every problem found; the list is empty when the patch creates no link pointing out of the repo. */
  end(): LinkProblem[] {
    if (this.#lineLen > 0 || this.#lineTruncated) this.#flushLine();
    this.#finish();
    return this.problems;
  }

  #flushLine(): void {
    const line = Buffer.concat(this.#line, this.#lineLen).toString('utf8');
    const truncated = this.#lineTruncated;
    this.#line = [];
    this.#lineLen = 0;
    this.#lineTruncated = false;
    this.#onLine(line, truncated);
  }

  #onLine(line: string, truncated: boolean): void {
    if (line.startsWith('diff --git ')) {
      this.#finish();
      this.#sec = { path: truncated ? null : gitDiffPath(line), newMode: null, indexMode: null, deleted: false, binary: false, hunks: 0, inHunk: false, content: [], truncated: false };
      return;
    }
    const s = this.#sec;
    const header = /^(new file mode|new mode|deleted file mode|old mode|index|rename from|rename to|copy from|copy to) /.exec(line);
    if (header) {
      if (!s) {
        if (line.includes(LINK)) this.problems.push({ path: '?', why: 'a symlink header outside any `diff --git` section' });
        return;
      }
      s.inHunk = false;
      const word = header[1];
      const mode = /(\d{6})\s*$/.exec(line)?.[1] ?? null;
      if (word === 'new file mode' || word === 'new mode') s.newMode = mode;
      else if (word === 'index') s.indexMode = / (\d{6})\s*$/.exec(line)?.[1] ?? null;
      else if (word === 'deleted file mode') s.deleted = true;
      else if (word !== 'old mode') this.problems.push({ path: s.path ?? '?', why: `the patch ${word.replace(/ .*/, 's')} a file (banger's export never does)` });
      return;
    }
    if (!s) return;
    if (line.startsWith('GIT binary patch') || line.startsWith('Binary files ')) {
      s.binary = true;
      s.inHunk = false;
      return;
    }
    if (line.startsWith('@@ ')) {
      s.hunks++;
      s.inHunk = true;
      return;
    }
    if (!s.inHunk) return;
    if (line.startsWith('+') || line.startsWith(' ')) {
      s.content.push(line.slice(1));
      if (truncated) s.truncated = true;
    }
  }

  #finish(): void {
    const s = this.#sec;
    this.#sec = null;
    if (!s) return;
    const mode = s.newMode ?? s.indexMode;
    if (s.path !== null && (s.deleted || mode !== null)) this.statedMode.add(s.path);
    if (s.deleted) return;
    if (mode !== LINK) return;
    const path = s.path ?? '?';
    if (s.binary || s.hunks !== 1 || s.content.length !== 1 || s.truncated) {
      this.problems.push({ path, why: 'a symlink whose target the patch does not state in one line (cannot be checked)' });
      return;
    }
    const why = linkEscapeReason(s.path, s.content[0]);
    if (why) this.problems.push({ path, why });
  }
}

/**
 * Why a link at `linkPath` (repo-relative; null if unknown: then it is judged as if at the top)
 * with `target` is refused, or null: absolute, climbing out of the repo, or into `.git`.
 */
export function linkEscapeReason(linkPath: string | null, target: string): string | null {
  if (target === '') return 'a symlink with an empty target';
  if (target.includes('\0')) return 'a symlink target containing NUL';
  if (target.startsWith('/')) return `a symlink to the absolute path ${JSON.stringify(target)}`;
  const dir = linkPath === null ? '.' : posix.dirname(linkPath);
  const resolved = posix.normalize(posix.join(dir, target));
  if (resolved === '..' || resolved.startsWith('../')) return `a symlink to ${JSON.stringify(target)}, outside the repo`;
  if (resolved.split('/').some((p) => p.toLowerCase() === '.git')) return `a symlink to ${JSON.stringify(target)}, inside .git`;
  return null;
}

/** The path of a `diff --git a/P b/P` line (both sides equal, as in banger's export), or null. */
export function gitDiffPath(line: string): string | null {
  const rest = line.slice('diff --git '.length);
  if (rest.startsWith('"')) {
    const a = cUnquote(rest);
    if (!a || !rest.slice(a.len).startsWith(' "')) return null;
    const b = cUnquote(rest.slice(a.len + 1));
    return a.text.startsWith('a/') && b && b.text === `b/${a.text.slice(2)}` ? a.text.slice(2) : null;
  }
  if (!rest.startsWith('a/') || (rest.length - 5) % 2 !== 0) return null;
  const n = (rest.length - 5) / 2;
  const p = rest.slice(2, 2 + n);
  return rest.slice(2 + n) === ` b/${p}` ? p : null;
}

/** Reads one C-quoted string as git writes paths ("a\tb\303\274"); null if malformed. */
function cUnquote(s: string): { text: string; len: number } | null {
  const bytes: number[] = [];
  const ESC: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, '\\': 92 };
  for (let i = 1; i < s.length; i++) {
    const c = s[i];
    if (c === '"') return { text: Buffer.from(bytes).toString('utf8'), len: i + 1 };
    if (c !== '\\') {
      bytes.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const e = s[++i];
    if (e in ESC) bytes.push(ESC[e]);
    else if (/^[0-3][0-7]{2}$/.test(s.slice(i, i + 3))) {
      bytes.push(parseInt(s.slice(i, i + 3), 8));
      i += 2;
    } else return null;
  }
  return null;
}
