/** `workspace prepare --dry-run`: the plan, computed on the client from the host repo alone (no VM, no daemon). */
import type { WorkspacePlan } from '../api/workspace.js';
import { BangerError } from '../api/errors.js';
import type { PrepareParams } from './service.js';
import { submoduleRefusal } from './fileset.js';
import { parseTreeEntries } from './gitlist.js';
import { checkBranchName, checkMode, git, inspectFiles, inspectRepo, planView, resolveCommit } from './repo.js';

export async function dryRunPlan(p: Pick<PrepareParams, 'hostPath' | 'mode' | 'branch' | 'from' | 'includeUntracked'>): Promise<WorkspacePlan> {
  const repo = await inspectRepo(p.hostPath);
  if (p.branch !== undefined) await checkBranchName(repo.root, p.branch);
  if (p.from === undefined) {
    const set = await inspectFiles(repo, { includeUntracked: p.includeUntracked });
    checkMode(p.mode, set);
    return planView(repo, p.mode, set);
  }
  const commit = await resolveCommit(repo.root, p.from);
  const tree = parseTreeEntries((await git(repo.root, ['ls-tree', '-r', '-z', '-l', commit])).stdoutBytes);
  const subs = tree.filter((e) => e.type === 'commit').map((e) => e.path);
  if (p.mode === 'shallow' && subs.length > 0) throw new BangerError('bad_request', submoduleRefusal(subs));
  const files = tree
    .filter((e) => e.type === 'blob')
    .map((e) => ({
      path: e.path,
      kind: e.mode === '120000' ? ('symlink' as const) : e.mode === '100755' ? ('exec' as const) : ('file' as const),
      mode: e.mode === '100755' ? 0o755 : e.mode === '120000' ? 0o777 : 0o644,
      size: e.size,
      tracked: true,
    }));
  return {
    mode: p.mode,
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
}
