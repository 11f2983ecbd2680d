/**
 * Host repo inspection: git listings and lstat, gathered for the planner (fileset.ts).
 * Read-only: nothing here writes to the host repo (GIT_OPTIONAL_LOCKS=0, no index refresh).
 */
import { lstatSync } from 'node:fs';
import { basename } from 'node:path';
import { BangerError } from '../api/errors.js';
import type { WorkspaceMode, WorkspacePlan } from '../api/workspace.js';
import { run, type RunResult } from '../host/exec.js';
import { planFileSet, submoduleRefusal, type FileSet, type PathStat } from './fileset.js';
import { parseIndexEntries, parsePathList, uniqueByPath, type RepoPath } from './gitlist.js';

export interface RepoInfo {
  root: string;
  name: string;
  /** Absolute; differs from `${root}/.git` for linked worktrees. */
  gitDir: string;
  commonDir: string;
  objectsDir: string;
  headCommit: string;
  hostBranch: string | null;
  objectFormat: string;
  shallow: boolean;
  identity: { name: string | null; email: string | null };
}

/** Environment for host git: the caller's GIT_* variables (a hook's GIT_DIR, say) must not leak in. */
export function gitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GIT_')) env[k] = v;
  return { ...env, GIT_OPTIONAL_LOCKS: '0', GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C', ...extra };
}

export interface GitOpts {
  env?: Record<string, string>;
  input?: string | Buffer;
  check?: boolean;
}

/**
 * Config a repo could set that makes read-only git commands run programs: the fsmonitor hook (run
 * by any command that refreshes an index), hooks (none of the commands used here runs one today;
 * pointed at /dev/null so none ever does) and commit signing (commit-tree honours commit.gpgSign,
 * which runs gpg.program). Diff drivers, pagers, editors, credential helpers and ssh are not
 * reached: only plumbing runs, without a terminal or a remote. Clean/smudge filters stay on: they
 * define the content of a file (git-lfs), and git runs them for the user's own commands too.
 */
export const GIT_SAFE_CONFIG = ['-c', 'core.fsmonitor=false', '-c', 'core.hooksPath=/dev/null', '-c', 'commit.gpgSign=false'] as const;

/** Every git command on a host repo goes through here, with GIT_SAFE_CONFIG. */
export function git(cwd: string, args: readonly string[], opts: GitOpts = {}): Promise<RunResult> {
  return run(['git', '-C', cwd, ...GIT_SAFE_CONFIG, ...args], { env: gitEnv(opts.env), input: opts.input, check: opts.check ?? true, binary: true });
}

const text = (r: RunResult) => r.stdoutBytes.toString('utf8');

export async function inspectRepo(path: string): Promise<RepoInfo> {
  const top = await git(path, ['rev-parse', '--show-toplevel'], { check: false });
  if (top.code !== 0) {
    const why = top.stderr.includes('not a git repository') ? 'is not inside a git repository' : `cannot be read as a git work tree (${top.stderr.trim()})`;
    throw new BangerError('bad_request', `${path} ${why}; run \`git init\` and commit there, or pass the repo's path`);
  }
  const root = text(top).trim();
  const dirs = text(
    await git(root, ['rev-parse', '--path-format=absolute', '--absolute-git-dir', '--git-common-dir', '--git-path', 'objects', '--is-shallow-repository']),
  ).split('\n');
  const [gitDir, commonDir, objectsDir, shallow] = dirs;
  const head = await git(root, ['rev-parse', '--verify', '-q', 'HEAD^{commit}'], { check: false });
  if (head.code !== 0) throw new BangerError('bad_request', `${root} has no commits yet; commit something first (a workspace starts from a commit)`);
  const branch = await git(root, ['symbolic-ref', '--short', '-q', 'HEAD'], { check: false });
  const fmt = await git(root, ['rev-parse', '--show-object-format'], { check: false });
  const cfg = async (k: string) => {
    const r = await git(root, ['config', '--get', k], { check: false });
    return r.code === 0 ? text(r).replace(/\n$/, '') : null;
  };
  return {
    root,
    name: basename(root),
    gitDir,
    commonDir,
    objectsDir,
    headCommit: text(head).trim(),
    hostBranch: branch.code === 0 ? text(branch).trim() : null,
    objectFormat: fmt.code === 0 ? text(fmt).trim() || 'sha1' : 'sha1',
    shallow: shallow === 'true',
    identity: { name: await cfg('user.name'), email: await cfg('user.email') },
  };
}

/** Resolves a revision to a commit id on the host, or says what to do. */
export async function resolveCommit(root: string, rev: string): Promise<string> {
  const r = await git(root, ['rev-parse', '--verify', '-q', '--end-of-options', `${rev}^{commit}`], { check: false });
  if (r.code !== 0) throw new BangerError('bad_request', `--from ${rev}: no such commit in ${root}; see \`git log --oneline\``);
  return text(r).trim();
}

/** Checks a branch name as git would (`git check-ref-format --branch`). */
export async function checkBranchName(root: string, branch: string): Promise<void> {
  const r = await git(root, ['check-ref-format', '--branch', branch], { check: false });
  if (r.code !== 0 || branch.startsWith('-') || branch === 'HEAD') {
    throw new BangerError('bad_request', `--branch ${JSON.stringify(branch)} is not a valid branch name (see \`git check-ref-format --branch\`)`);
  }
}

/**
 * lstat of repo paths under `root`, as the planner wants it. Symlinks are never followed: a path
 * with a symlink (or a non-directory) among its leading directories is `behindSymlink`, as git
 * itself treats it ("beyond a symbolic link"), so tar never reads a host file through a link.
 */
export function pathStatter(root: string): (p: RepoPath) => PathStat {
  const dirs = new Map<string, boolean>(); // leading directory (raw, latin1) → a real directory
  const realDir = (raw: Buffer): boolean => {
    const k = raw.toString('latin1');
    let ok = dirs.get(k);
    if (ok === undefined) {
      const slash = raw.lastIndexOf(0x2f);
      ok = slash < 0 || realDir(raw.subarray(0, slash));
      if (ok) {
        try {
          ok = lstatSync(Buffer.concat([Buffer.from(`${root}/`), raw])).isDirectory();
        } catch {
          ok = false;
        }
      }
      dirs.set(k, ok);
    }
    return ok;
  };
  return (p) => {
    const slash = p.raw.lastIndexOf(0x2f);
    if (slash >= 0 && !realDir(p.raw.subarray(0, slash))) {
      return existsBehind(root, p.raw) ? { kind: 'behindSymlink' } : { kind: 'missing' };
    }
    try {
      const s = lstatSync(Buffer.concat([Buffer.from(`${root}/`), p.raw]));
      if (s.isSymbolicLink()) return { kind: 'symlink', mode: s.mode, size: s.size };
      if (s.isFile()) return { kind: 'file', mode: s.mode, size: s.size };
      return { kind: s.isDirectory() ? 'directory' : 'other' };
    } catch {
      return { kind: 'missing' };
    }
  };
}

/** Whether a path whose leading directories are not all real directories resolves to something (through a link). */
function existsBehind(root: string, raw: Buffer): boolean {
  try {
    lstatSync(Buffer.concat([Buffer.from(`${root}/`), raw]));
    return true;
  } catch {
    return false;
  }
}

/** Gathers the listings and plans the working-tree file set (prepare without --from, and --dry-run). */
export async function inspectFiles(repo: RepoInfo, opts: { includeUntracked: boolean }): Promise<FileSet> {
  const [tracked, untracked, dirty] = await Promise.all([
    git(repo.root, ['ls-files', '-z', '-s']).then((r) => uniqueByPath(parseIndexEntries(r.stdoutBytes))),
    opts.includeUntracked ? git(repo.root, ['ls-files', '-z', '--others', '--exclude-standard']).then((r) => parsePathList(r.stdoutBytes)) : [],
    // HEAD against the working tree through the index, without writing the index.
    git(repo.root, ['diff-index', '-z', '--name-only', '--no-renames', '--ignore-submodules=all', repo.headCommit]).then((r) => parsePathList(r.stdoutBytes)),
  ]);
  return planFileSet({ tracked, untracked, dirty, stat: pathStatter(repo.root) });
}

/** Refuses what a mode cannot carry. */
export function checkMode(mode: WorkspaceMode, set: FileSet): void {
  if (mode === 'shallow' && set.submodules.length > 0) throw new BangerError('bad_request', submoduleRefusal(set.submodules.map((s) => s.path)));
}

/** The dry-run view of a plan. */
export function planView(repo: RepoInfo, mode: WorkspaceMode, set: FileSet): WorkspacePlan {
  return {
    mode,
    root: repo.root,
    headCommit: repo.headCommit,
    hostBranch: repo.hostBranch,
    files: set.files.map(({ raw: _raw, ...f }) => f),
    fileCount: set.fileCount,
    bytes: set.bytes,
    submodules: set.submodules.map((s) => s.path),
    skipped: set.skipped,
    modified: set.modified.map((m) => m.path),
  };
}
