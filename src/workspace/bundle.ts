/**
 * Builds, on the host, everything prepare streams into the guest: a ready `.git` (pack + its index,
 * packed-refs, HEAD, config, the git index) in a temp directory, and the list of working-tree files.
 * Nothing is written to the host repo: new objects (the prepared commit) go to a temporary object
 * directory that borrows the repo's objects as an alternate, and the indexes are temp files.
 *
 * Host uncommitted changes: the guest gets the working tree as it is (so a command in the VM sees
 * the user's edits), its HEAD is the host's HEAD commit, and its index is HEAD's tree, so the
 * edits show as uncommitted there too. When the working tree differs from HEAD (edits, deletions,
 * copied untracked files), a commit on top of HEAD holding exactly the copied tree is shipped as
 * the guest ref `refs/banger/prepared`; export diffs against it by default, so the patch holds
 * only what changed in the guest and applies to the host's working tree as it was.
 */
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { existsSync, lstatSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { BangerError } from '../api/errors.js';
import { noProgress, type Progress } from '../api/progress.js';
import { planFileSet, type FileSet, type PlanEntry } from './fileset.js';
import { joinNul, parseConfigList, parseIndexEntries, parsePathList, uniqueByPath, type RepoPath } from './gitlist.js';
import type { Plan } from './plan.js';
import { git, pathStatter, type RepoInfo } from './repo.js';
import { skeletonFiles } from './skeleton.js';
import type { TarPart } from './stream.js';
import { privateTempDir, writePrivateFile } from './tempfiles.js';

export interface BundleOptions {
  repo: RepoInfo;
  /** From planWorkspace (plan.ts): what to copy. */
  plan: Plan;
  /** Parent of the private temp directory. @default os.tmpdir() */
  tmpDir?: string;
  progress?: Progress;
  now?: () => Date;
}

export interface Bundle {
  /** Private temp directory (0700, files 0600) holding the skeleton and lists; `cleanup()` removes it. */
  dir: string;
  parts: TarPart[];
  /** The guest must check out HEAD itself (the `--from` case: no working-tree files are sent). */
  checkout: boolean;
  /** The commit checked out in the guest. */
  headCommit: string;
  /** headCommit, or the commit on top of it holding the host's uncommitted changes. */
  preparedCommit: string;
  branch: string | null;
  fileCount: number;
  bytes: number;
  packBytes: number;
  skipped: Array<{ path: string; reason: string }>;
  cleanup(): Promise<void>;
}

/** Index features an older guest git may not read; the shipped index is written without them. */
const PLAIN_INDEX = ['-c', 'core.splitIndex=false', '-c', 'index.skipHash=false', '-c', 'index.sparse=false', '-c', 'core.fsmonitor=false', '-c', 'core.untrackedCache=false'];

/**
 * No delta search: on a fresh repo it costs more host time than the bytes it saves on the wire.
 * Existing deltas in the host's packs are still reused as they are. zlib level 1 for what must be
 * compressed: on a 46 MB source tree 2.3 s instead of 3.6 s of host time for a pack 17% larger,
 * which the bulk channel moves in well under the difference.
 */
const PACK_ARGS = ['-c', 'pack.compression=1', 'pack-objects', '-q', '--window=0'];

const BANGER_IDENTITY = {
  GIT_AUTHOR_NAME: 'banger',
  GIT_AUTHOR_EMAIL: 'banger@localhost',
  GIT_COMMITTER_NAME: 'banger',
  GIT_COMMITTER_EMAIL: 'banger@localhost',
};

export async function buildBundle(o: BundleOptions): Promise<Bundle> {
  const progress = o.progress ?? noProgress;
  const { repo } = o;
  const { path: dir, remove: cleanup } = await privateTempDir('banger-ws-', o.tmpDir);
  try {
    return await build(o, repo, dir, progress, cleanup);
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function build(o: BundleOptions, repo: RepoInfo, dir: string, progress: Progress, cleanup: () => Promise<void>): Promise<Bundle> {
  const { plan } = o;
  const { commit, branch, set, mode } = plan;
  const fromTree = plan.set ? null : plan.view;

  const skel = join(dir, 'skel', '.git');
  for (const d of ['refs/heads', 'refs/tags', 'objects/pack', 'objects/info', 'info']) await mkdir(join(skel, d), { recursive: true });
  const objects = join(dir, 'objects');
  for (const d of ['pack', 'info']) await mkdir(join(objects, d), { recursive: true });
  const objEnv = { GIT_OBJECT_DIRECTORY: objects, GIT_ALTERNATE_OBJECT_DIRECTORIES: repo.objectsDir };

  // The guest's index: HEAD's tree, with the host's stat data where the file matches HEAD.
  progress('plan', 'writing the index');
  const index = join(skel, 'index');
  const idxEnv = { ...objEnv, GIT_INDEX_FILE: index };
  const hostIndex = join(repo.gitDir, 'index');
  let seeded = false;
  if (set && existsSync(hostIndex)) {
    await writePrivateFile(index, await readFile(hostIndex));
    seeded = (await git(repo.root, [...PLAIN_INDEX, 'read-tree', '-m', commit], { env: idxEnv, check: false })).code === 0;
  }
  if (!seeded) {
    await rm(index, { force: true });
    await git(repo.root, [...PLAIN_INDEX, 'read-tree', commit], { env: idxEnv });
  }
  if (set) await git(repo.root, [...PLAIN_INDEX, 'update-index', '-q', '--refresh'], { env: idxEnv, check: false });

  // The prepared commit: HEAD plus the working-tree differences the guest receives.
  let prepared = commit;
  if (set && set.prepAdd.length + set.prepRemove.length > 0) {
    progress('plan', `recording ${set.prepAdd.length + set.prepRemove.length} uncommitted changes`);
    const prepIndex = join(dir, 'prepared.index');
    await writePrivateFile(prepIndex, await readFile(index));
    const env = { ...objEnv, GIT_INDEX_FILE: prepIndex };
    // Removals first: a path that was a directory may now be a file (or a link) being added.
    if (set.prepRemove.length) await git(repo.root, [...PLAIN_INDEX, 'update-index', '--force-remove', '-z', '--stdin'], { env, input: joinNul(set.prepRemove) });
    if (set.prepAdd.length) await git(repo.root, [...PLAIN_INDEX, 'update-index', '--add', '-z', '--stdin'], { env, input: joinNul(set.prepAdd) });
    const tree = (await git(repo.root, ['write-tree'], { env })).stdoutBytes.toString().trim();
    const headTree = (await git(repo.root, ['rev-parse', `${commit}^{tree}`])).stdoutBytes.toString().trim();
    if (tree !== headTree) {
      const when = (o.now?.() ?? new Date()).toISOString();
      const r = await git(repo.root, ['commit-tree', tree, '-p', commit, '-m', 'banger: the host working tree at prepare (uncommitted changes)'], {
        env: { ...objEnv, ...BANGER_IDENTITY, GIT_AUTHOR_DATE: when, GIT_COMMITTER_DATE: when },
      });
      prepared = r.stdoutBytes.toString().trim();
    }
  }

  // The pack: the one commit (shallow) or every ref's history (full_copy), plus the prepared commit.
  progress('pack', mode === 'shallow' ? 'packing HEAD' : 'packing the history');
  const packBase = join(skel, 'objects', 'pack', 'pack');
  const tips = [...new Set([commit, prepared])];
  if (mode === 'shallow') {
    const objs = await git(repo.root, ['rev-list', '--objects', '--no-walk', ...tips], { env: objEnv });
    await git(repo.root, [...PACK_ARGS, packBase], { env: objEnv, input: objs.stdoutBytes });
  } else {
    await git(repo.root, [...PACK_ARGS, '--all', '--revs', packBase], { env: objEnv, input: tips.map((t) => `${t}\n`).join('') });
  }
  let packBytes = 0;
  for (const f of await readdir(join(skel, 'objects', 'pack'))) packBytes += (await stat(join(skel, 'objects', 'pack', f))).size;

  // Refs, HEAD, config.
  const refs: Array<{ name: string; commit: string }> = [];
  let shallow: string[] = [];
  if (mode === 'shallow') {
    shallow = [commit];
  } else {
    const lines = (await git(repo.root, ['for-each-ref', '--format=%(objectname) %(refname)'])).stdoutBytes.toString('utf8').split('\n');
    for (const l of lines) {
      const sp = l.indexOf(' ');
      if (sp > 0 && !l.slice(sp + 1).startsWith('refs/banger/')) refs.push({ commit: l.slice(0, sp), name: l.slice(sp + 1) });
    }
    if (repo.shallow) shallow = readFileSync(join(repo.commonDir, 'shallow'), 'utf8').split('\n').filter(Boolean);
  }
  if (branch) {
    const i = refs.findIndex((r) => r.name === `refs/heads/${branch}`);
    if (i >= 0) refs.splice(i, 1);
    refs.push({ name: `refs/heads/${branch}`, commit });
  }
  refs.push({ name: 'refs/banger/prepared', commit: prepared });
  const extraConfig =
    mode === 'full_copy' ? parseConfigList((await git(repo.root, ['config', '-z', '--local', '--get-regexp', '^submodule\\.'], { check: false })).stdoutBytes) : [];
  const excludePath = join(repo.commonDir, 'info', 'exclude');
  const files = skeletonFiles({
    commit,
    branch,
    refs,
    shallow,
    objectFormat: repo.objectFormat,
    identity: repo.identity,
    extraConfig,
    exclude: existsSync(excludePath) ? await readFile(excludePath, 'utf8') : null,
  });
  for (const f of files) {
    await mkdir(dirname(join(skel, f.path)), { recursive: true });
    await writePrivateFile(join(skel, f.path), f.content);
  }

  // The working tree: files listed for tar, and (full_copy) submodules with their git directories.
  const parts: TarPart[] = [{ kind: 'tree', cwd: join(dir, 'skel'), names: ['.git'] }];
  const skipped = set ? [...set.skipped] : [];
  let listed: RepoPath[] = set ? set.files : [];
  let fileCount = set?.fileCount ?? fromTree!.fileCount;
  let bytes = set?.bytes ?? fromTree!.bytes;
  if (set && mode === 'full_copy') {
    for (const sub of set.submodules) {
      const extra = await submoduleParts(repo, sub, plan.includeUntracked);
      if ('skip' in extra) {
        skipped.push({ path: sub.path, reason: extra.skip });
        // The guest gets what the host has: an empty directory for a submodule that is not checked out.
        if (extra.emptyDir) listed = [...listed, sub];
        continue;
      }
      parts.push(...extra.parts);
      listed = [...listed, ...extra.files];
      fileCount += extra.fileSet.fileCount;
      bytes += extra.fileSet.bytes;
      skipped.push(...extra.fileSet.skipped.map((s) => ({ path: `${sub.path}/${s.path}`, reason: s.reason })));
    }
  }
  if (listed.length > 0) {
    const listFile = join(dir, 'files.list');
    await writePrivateFile(listFile, joinNul(listed));
    parts.splice(1, 0, { kind: 'list', cwd: repo.root, listFile });
  }

  return {
    dir,
    parts,
    checkout: set === null,
    headCommit: commit,
    preparedCommit: prepared,
    branch,
    fileCount,
    bytes,
    packBytes,
    skipped,
    cleanup,
  };
}

type SubmoduleCopy = { skip: string; emptyDir: boolean } | { parts: TarPart[]; files: RepoPath[]; fileSet: FileSet };

/**
 * full_copy carries an initialized submodule as it is on the host: its tracked (and, if asked,
 * untracked) files, its `.git` file or directory, and its git directory under `.git/modules`.
 * Submodules nested inside it are not carried. Symlinks are never followed: a submodule path that
 * is (or lies behind) a symlink, or a `.git` that is one, is skipped; files behind a symlinked
 * directory inside it are skipped by the planner (repo.ts pathStatter).
 */
async function submoduleParts(repo: RepoInfo, sub: RepoPath, includeUntracked: boolean): Promise<SubmoduleCopy> {
  const subRoot = join(repo.root, sub.path);
  const where = pathStatter(repo.root)(sub);
  if (where.kind !== 'directory') {
    const why = where.kind === 'behindSymlink' || where.kind === 'symlink' ? 'a symbolic link on the host (not followed)' : 'missing on the host';
    return { skip: `submodule path is ${why}`, emptyDir: false };
  }
  const dotGit = join(subRoot, '.git');
  let st;
  try {
    st = lstatSync(dotGit);
  } catch {
    return { skip: 'submodule not initialized on the host (git submodule update --init)', emptyDir: true };
  }
  if (st.isSymbolicLink()) return { skip: 'its .git is a symbolic link on the host (not followed)', emptyDir: false };
  const parts: TarPart[] = [];
  const files: RepoPath[] = [];
  // Git directories carry lock files only while a git command runs; never copy them.
  const noLocks = ['*.lock'];
  if (st.isDirectory()) {
    parts.push({ kind: 'tree', cwd: repo.root, names: [`${sub.path}/.git`], exclude: noLocks });
  } else {
    const m = /^gitdir: (.*)$/m.exec(readFileSync(dotGit, 'utf8'));
    const target = m ? resolve(subRoot, m[1].trim()) : '';
    const modules = join(repo.commonDir, 'modules') + sep;
    if (!target.startsWith(modules) || !noLinksBetween(repo.commonDir, target)) {
      throw new BangerError('bad_request', `submodule ${sub.path} keeps its git directory outside ${modules} (${target || 'unreadable .git file'}); banger cannot copy it`);
    }
    parts.push({ kind: 'tree', cwd: repo.commonDir, names: [relative(repo.commonDir, target)], exclude: noLocks, transform: 's,^modules/,.git/modules/,rSH' });
    files.push({ path: `${sub.path}/.git`, raw: Buffer.concat([sub.raw, Buffer.from('/.git')]) });
  }
  const [tracked, untracked] = await Promise.all([
    git(subRoot, ['ls-files', '-z', '-s']).then((r) => uniqueByPath(parseIndexEntries(r.stdoutBytes))),
    includeUntracked ? git(subRoot, ['ls-files', '-z', '--others', '--exclude-standard']).then((r) => parsePathList(r.stdoutBytes)) : [],
  ]);
  const fileSet = planFileSet({ tracked, untracked, dirty: [], stat: pathStatter(subRoot) });
  const prefix = Buffer.concat([sub.raw, Buffer.from('/')]);
  for (const f of fileSet.files as PlanEntry[]) files.push({ path: `${sub.path}/${f.path}`, raw: Buffer.concat([prefix, f.raw]) });
  return { parts, files, fileSet };
}

/** True when no directory between `base` and `target` (inclusive) is a symlink. */
function noLinksBetween(base: string, target: string): boolean {
  try {
    return realpathSync(target) === join(realpathSync(base), relative(base, target));
  } catch {
    return false;
  }
}

