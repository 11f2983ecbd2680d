/**
 * Applies an exported patch to a host repo (`export --apply`). The patch came from a guest and is
 * data: the paths it touches are read by the host's own git (`git apply --numstat`) and checked
 * before anything is applied; uncommitted host changes on those paths make it refuse; the apply is
 * checked first (3-way) so the repo is never left half-applied or with conflict markers. Symlinks
 * the patch would create or retarget must point inside the repo (patchlinks.ts). A large patch
 * stays in a file (the export spills it to a private temp file): git reads it from there.
 */
import { createReadStream, lstatSync } from 'node:fs';
import { BangerError, conflict } from '../api/errors.js';
import { splitNul, unsafePathReason } from './gitlist.js';
import { PatchLinkScanner, type LinkProblem } from './patchlinks.js';
import { git } from './repo.js';

/** The patch: bytes in memory, or a file (absolute path) holding `size` bytes. */
export type PatchSource = Buffer | { file: string; size: number };

/** Paths from `git apply --numstat -z`: `add\tdel\tpath\0`, or for a rename `add\tdel\t\0from\0to\0`. */
export function parseNumstat(buf: Buffer): string[] {
  const recs = splitNulKeepEmpty(buf);
  const paths: string[] = [];
  for (let i = 0; i < recs.length; i++) {
    const r = recs[i];
    const m = /^(\d+|-)\t(\d+|-)\t([\s\S]*)$/.exec(r);
    if (!m) throw new Error(`unexpected git apply --numstat record ${JSON.stringify(r.slice(0, 100))}`);
    if (m[3] !== '') paths.push(m[3]);
    else {
      paths.push(recs[i + 1] ?? '', recs[i + 2] ?? '');
      i += 2;
    }
  }
  return paths;
}

/** Like splitNul but an empty record (the rename marker) is kept. */
function splitNulKeepEmpty(buf: Buffer): string[] {
  const s = buf.toString('utf8');
  const parts = s.split('\0');
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

export interface ApplyResult {
  repo: string;
  files: string[];
}

/** Symlinks the patch creates or retargets that point outside the repo (or into .git). */
async function linkProblems(patch: PatchSource): Promise<{ problems: LinkProblem[]; statedMode: Set<string> }> {
  const scanner = new PatchLinkScanner();
  if (Buffer.isBuffer(patch)) scanner.push(patch);
  else for await (const chunk of createReadStream(patch.file)) scanner.push(chunk as Buffer);
  return { problems: scanner.end(), statedMode: scanner.statedMode };
}

export async function applyPatch(repoPath: string, patch: PatchSource): Promise<ApplyResult> {
  const top = await git(repoPath, ['rev-parse', '--show-toplevel'], { check: false });
  if (top.code !== 0) throw new BangerError('bad_request', `${repoPath} is not inside a git repository; pass the host repo with --repo PATH`);
  const root = top.stdoutBytes.toString('utf8').trim();
  if ((Buffer.isBuffer(patch) ? patch.length : patch.size) === 0) return { repo: root, files: [] };
  // git reads the patch from stdin (bytes) or from the file named after `--`.
  const from = Buffer.isBuffer(patch) ? { args: ['-'], opts: { input: patch } } : { args: ['--', patch.file], opts: {} };

  const stat = await git(root, ['apply', '--numstat', '-z', ...from.args], { ...from.opts, check: false });
  if (stat.code !== 0) throw new BangerError('bad_request', `the patch cannot be read by git apply: ${stat.stderr.trim()}; nothing was applied`);
  const files = [...new Set(parseNumstat(stat.stdoutBytes))];
  for (const f of files) {
    const why = unsafePathReason(f);
    if (why) throw new BangerError('bad_request', `the patch touches the unsafe path ${JSON.stringify(f)} (${why}); nothing was applied`);
  }
  const links = await linkProblems(patch);
  for (const f of files) {
    // A path whose mode the patch does not state keeps its own: an existing symlink would be retargeted unchecked.
    if (!links.statedMode.has(f) && isSymlink(root, f)) links.problems.push({ path: f, why: 'it changes an existing symlink without stating its mode (cannot be checked)' });
  }
  if (links.problems.length > 0) {
    const shown = links.problems.slice(0, 5).map((p) => `${JSON.stringify(p.path)}: ${p.why}`).join('; ');
    throw new BangerError('bad_request', `the patch makes symlinks that point outside the repo (${shown}); nothing was applied; save it with -o FILE to inspect it`, {
      details: { links: links.problems },
    });
  }

  // Uncommitted host changes (staged or not) on a path the patch touches would be overwritten.
  const head = await git(root, ['rev-parse', '--verify', '-q', 'HEAD'], { check: false });
  const dirty = new Set<string>();
  if (head.code === 0) {
    for (const args of [['diff-index', '--cached'], ['diff-files']]) {
      const r = await git(root, [...args, '-z', '--name-only', '--no-renames', ...(args[0] === 'diff-index' ? ['HEAD'] : [])]);
      for (const p of splitNul(r.stdoutBytes)) dirty.add(p.toString('utf8'));
    }
  }
  const clash = files.filter((f) => dirty.has(f));
  if (clash.length > 0) {
    const shown = clash.slice(0, 10).join(', ') + (clash.length > 10 ? ` and ${clash.length - 10} more` : '');
    throw conflict(
      `export --apply would overwrite uncommitted changes in ${root}: ${shown}; commit or stash them first, or save the patch with -o FILE and apply it yourself`,
      { repo: root, paths: clash },
    );
  }

  // `--check` exits 0 even when the 3-way fallback would leave conflicts; it says so on stderr (LC_ALL=C).
  const check = await git(root, ['apply', '--3way', '--check', ...from.args], { ...from.opts, check: false });
  if (check.code !== 0 || /with conflicts/.test(check.stderr)) {
    const out = `${check.stderr}`.trim().split('\n').slice(-6).join('; ');
    throw conflict(`the patch does not apply cleanly to ${root} (${out}); nothing was applied; save it with -o FILE and merge by hand (git apply --3way FILE)`, {
      repo: root,
    });
  }
  const r = await git(root, ['apply', '--3way', ...from.args], { ...from.opts, check: false });
  if (r.code !== 0) throw new BangerError('internal', `git apply --3way failed in ${root}: ${r.stderr.trim()}`);
  return { repo: root, files };
}

function isSymlink(root: string, path: string): boolean {
  try {
    return lstatSync(`${root}/${path}`).isSymbolicLink();
  } catch {
    return false;
  }
}
