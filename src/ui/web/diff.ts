/**
 * The diff view's model, pure: a `git diff` patch (what `workspace.export` streams) → files with
 * their status, binary flag and hunks, and a hunk's lines paired for the side-by-side view.
 */

export type DiffLine = { kind: 'ctx' | 'add' | 'del'; text: string; old: number | null; new: number | null };
export interface DiffHunk {
  header: string;
  lines: DiffLine[];
}
export interface DiffFile {
  path: string;
  /** The path before a rename (else the same as path). */
  oldPath: string;
  status: 'modified' | 'added' | 'deleted' | 'renamed';
  binary: boolean;
  added: number;
  removed: number;
  hunks: DiffHunk[];
}

/** `a/x y` → `x y`; a C-quoted name (git quotes odd names) is unquoted. */
function cleanPath(p: string): string {
  let s = p.trim();
  if (s.startsWith('"') && s.endsWith('"')) {
    // git writes each byte of a non-ASCII name as \ooo: collect bytes, then read them as UTF-8.
    const bytes: number[] = [];
    const body = s.slice(1, -1);
    for (let i = 0; i < body.length; i++) {
      const c = body[i]!;
      if (c !== '\\') {
        bytes.push(...new TextEncoder().encode(c));
        continue;
      }
      const oct = /^[0-7]{3}/.exec(body.slice(i + 1));
      if (oct) (bytes.push(parseInt(oct[0], 8)), (i += 3));
      else bytes.push(({ n: 10, t: 9 } as Record<string, number>)[body[i + 1]!] ?? body.charCodeAt(i + 1)), i++;
    }
    s = new TextDecoder().decode(new Uint8Array(bytes));
  }
  return s.replace(/^[ab]\//, '');
}

export function parseDiff(patch: string): DiffFile[] {
  const files: DiffFile[] = [];
  let f: DiffFile | null = null;
  let h: DiffHunk | null = null;
  let oldNo = 0;
  let newNo = 0;
  const lines = patch.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const line of lines) {
    if (line.startsWith('diff --git ')) {
      const m = /^diff --git (.+?) (b\/.+|"b\/.+")$/.exec(line);
      const path = m ? cleanPath(m[2]!) : line.slice(11);
      f = { path, oldPath: m ? cleanPath(m[1]!) : path, status: 'modified', binary: false, added: 0, removed: 0, hunks: [] };
      h = null;
      files.push(f);
      continue;
    }
    if (!f) continue;
    if (!h) {
      if (line.startsWith('new file mode')) f.status = 'added';
      else if (line.startsWith('deleted file mode')) f.status = 'deleted';
      else if (line.startsWith('rename from ')) (f.status = 'renamed'), (f.oldPath = cleanPath(line.slice(12)));
      else if (line.startsWith('rename to ')) f.path = cleanPath(line.slice(10));
      else if (line.startsWith('Binary files ') || line === 'GIT binary patch') f.binary = true;
      else if (line.startsWith('+++ ') && line !== '+++ /dev/null') f.path = cleanPath(line.slice(4));
      else if (line.startsWith('--- ') && line !== '--- /dev/null') f.oldPath = cleanPath(line.slice(4));
    }
    const hm = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line);
    if (hm && !f.binary) {
      h = { header: line, lines: [] };
      f.hunks.push(h);
      oldNo = Number(hm[1]);
      newNo = Number(hm[2]);
      continue;
    }
    if (!h) continue;
    const c = line[0];
    if (c === '+') (h.lines.push({ kind: 'add', text: line.slice(1), old: null, new: newNo++ }), f.added++);
    else if (c === '-') (h.lines.push({ kind: 'del', text: line.slice(1), old: oldNo++, new: null }), f.removed++);
    else if (c === ' ' || line === '') h.lines.push({ kind: 'ctx', text: line.slice(1), old: oldNo++, new: newNo++ });
    // `\ No newline at end of file` and anything else: not a line of either side
  }
  return files;
}

/** One row of the side-by-side view: the old line on the left, the new on the right (either may be empty). */
export type SideRow = { left: DiffLine | null; right: DiffLine | null };

/** Pairs a hunk's lines: context on both sides; a run of removals next to the run of additions after it. */
export function sideBySide(h: DiffHunk): SideRow[] {
  const rows: SideRow[] = [];
  let i = 0;
  while (i < h.lines.length) {
    const l = h.lines[i]!;
    if (l.kind === 'ctx') {
      rows.push({ left: l, right: l });
      i++;
      continue;
    }
    const dels: DiffLine[] = [];
    const adds: DiffLine[] = [];
    while (i < h.lines.length && h.lines[i]!.kind === 'del') dels.push(h.lines[i++]!);
    while (i < h.lines.length && h.lines[i]!.kind === 'add') adds.push(h.lines[i++]!);
    for (let k = 0; k < Math.max(dels.length, adds.length); k++) rows.push({ left: dels[k] ?? null, right: adds[k] ?? null });
  }
  return rows;
}
