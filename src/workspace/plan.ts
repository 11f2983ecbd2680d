/**
 * The one workspace planner: what prepare copies from a host repo, decided before any temp file or
 * VM exists. `workspace.plan` (`--dry-run`, and the CLI's check before `vm run PATH` boots a VM)
 * returns its view; prepare builds the bundle from the same plan (bundle.ts), so the two can never
 * disagree.
 */
import { BangerError } from '../api/errors.js';
import { noProgress, type Progress } from '../api/progress.js';
import type { WorkspaceMode, WorkspacePlan } from '../api/workspace.js';
import { submoduleRefusal, type FileSet } from './fileset.js';
import { parseTreeEntries, type TreeEntry } from './gitlist.js';
import { checkBranchName, checkMode, git, inspectFiles, planView, resolveCommit, type RepoInfo } from './repo.js';

export interface PlanOptions {
  mode: WorkspaceMode;
  branch?: string;
  from?: string;
  includeUntracked: boolean;
  progress?: Progress;
}

export interface Plan {
  mode: WorkspaceMode;
  includeUntracked: boolean;
  /** The commit the guest checks out: HEAD, or `--from`. */
  commit: string;
  /** The guest branch (null: detached, the host's HEAD was). */
  branch: string | null;
  /** Working-tree files (no `--from`), or null. */
  set: FileSet | null;
  /** The `--from` commit's tree, or null. */
  tree: TreeEntry[] | null;
  /** What `--dry-run` prints. */
  view: WorkspacePlan;
}

export async function planWorkspace(repo: RepoInfo, o: PlanOptions): Promise<Plan> {
  (o.progress ?? noProgress)('plan', 'listing files');
  if (o.branch !== undefined) await checkBranchName(repo.root, o.branch);
  const base = { mode: o.mode, includeUntracked: o.includeUntracked };
  if (o.from === undefined) {
    const set = await inspectFiles(repo, { includeUntracked: o.includeUntracked });
    checkMode(o.mode, set);
    return { ...base, commit: repo.headCommit, branch: o.branch ?? repo.hostBranch, set, tree: null, view: planView(repo, o.mode, set) };
  }
  const commit = await resolveCommit(repo.root, o.from);
  const tree = parseTreeEntries((await git(repo.root, ['ls-tree', '-r', '-z', '-l', commit])).stdoutBytes);
  const subs = tree.filter((e) => e.type === 'commit').map((e) => e.path);
  if (o.mode === 'shallow' && subs.length > 0) throw new BangerError('bad_request', submoduleRefusal(subs));
  const files = tree
    .filter((e) => e.type === 'blob')
    .map((e) => ({
      path: e.path,
      kind: e.mode === '120000' ? ('symlink' as const) : e.mode === '100755' ? ('exec' as const) : ('file' as const),
      mode: e.mode === '100755' ? 0o755 : e.mode === '120000' ? 0o777 : 0o644,
      size: e.size,
      tracked: true,
    }));
  const view: WorkspacePlan = {
    mode: o.mode,
    root: repo.root,
    headCommit: commit,
    hostBranch: repo.hostBranch,
    files,
    fileCount: files.length,
    bytes: files.reduce((n, f) => n + f.size, 0),
    submodules: subs,
    skipped: [],
    modified: [],
  };
  return { ...base, commit, branch: o.branch ?? null, set: null, tree, view };
}
