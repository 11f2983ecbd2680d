/** vm workspace prepare/export: copy a git repo into a VM; bring the guest's changes back as a patch. */
import { Command, Option } from 'commander';
import { closeSync, openSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { BangerError } from '../../api/errors.js';
import { formatBytes } from '../../api/names.js';
import type { Workspace } from '../../api/vm.js';
import { DEFAULT_GUEST_PATH } from '../../api/defaults.js';
import { WorkspaceMode } from '../../api/enums.js';
import type { WorkspacePlan, WorkspacePlanParams } from '../../api/workspace.js';
import type { CliContext } from '../context.js';
import { formatElapsed } from '../progress.js';

export interface PrepareFlags {
  guestPath: string;
  mode: WorkspaceMode;
  branch?: string;
  from?: string;
  includeUntracked?: boolean;
}

/** The flags `workspace prepare` and `vm run PATH` share. */
export function withPrepareFlags(c: Command): Command {
  return c
    .option('--guest-path <path>', 'where the repo goes in the guest (absolute)', DEFAULT_GUEST_PATH)
    .addOption(new Option('--mode <mode>', 'shallow: HEAD only; full_copy: the whole history (and submodules)').choices(WorkspaceMode.options).default('shallow'))
    .option('--branch <name>', 'create (or reset) this branch in the guest and check it out')
    .option('--from <ref>', 'start --branch at this host commit (the guest gets its tree instead of the working tree)')
    .option('--include-untracked', 'also copy untracked files that are not ignored');
}

/** Validates the flags with the API schema, so the client and the daemon refuse the same things. */
async function prepareParams(name: string, path: string, o: PrepareFlags) {
  const { WorkspacePrepareParams } = await import('../../api/workspace.js'); // schemas load when used, not at start-up
  const r = WorkspacePrepareParams.safeParse({
    name,
    hostPath: resolve(path),
    guestPath: o.guestPath,
    mode: o.mode,
    branch: o.branch,
    from: o.from,
    includeUntracked: o.includeUntracked ?? false,
  });
  if (!r.success) throw new BangerError('bad_request', r.error.issues[0].message);
  return r.data;
}

/** The plan (`workspace.plan`) for prepare's params: the daemon reads the repo, no VM is needed. */
function planOf(ctx: CliContext, p: Awaited<ReturnType<typeof prepareParams>>, listFiles: boolean): Promise<WorkspacePlan> {
  const params: WorkspacePlanParams = { hostPath: p.hostPath, mode: p.mode, branch: p.branch, from: p.from, includeUntracked: p.includeUntracked, listFiles };
  return ctx.api('workspace.plan', params, { progress: false });
}

/** Refuses bad flags, or a repo prepare would refuse, before a VM is booted for it; the plan (with the file list when asked). */
export async function checkPrepareFlags(ctx: CliContext, path: string, o: PrepareFlags, listFiles = false): Promise<WorkspacePlan> {
  return planOf(ctx, await prepareParams('check', path, o), listFiles);
}

/** Prepares a workspace through the daemon; prints one summary line (or, with json, the API result). */
export async function prepareWorkspace(ctx: CliContext, name: string, path: string, o: PrepareFlags & { json?: boolean }): Promise<void> {
  const r = await ctx.api('workspace.prepare', await prepareParams(name, path, o));
  if (o.json) return void console.log(JSON.stringify(r, null, 2));
  const extra = r.preparedCommit !== r.workspace.headCommit ? ' (with the host\'s uncommitted changes)' : '';
  console.error(
    `${name}: ${r.fileCount} files (${formatBytes(r.bytes)}) in ${r.workspace.guestPath} at ${r.workspace.headCommit.slice(0, 12)}${extra} in ${formatElapsed(r.elapsedMs)}`,
  );
  for (const s of r.skipped) console.error(`  skipped ${showPath(s.path)}: ${s.reason}`);
}

/** Control characters in a file name are shown JSON-quoted, so one name stays one line. */
const showPath = (p: string) => (/[\x00-\x1f\x7f]/.test(p) ? JSON.stringify(p) : p);

export function printPlan(plan: WorkspacePlan): void {
  console.log(`mode: ${plan.mode}`);
  console.log(`repo: ${plan.root} (HEAD ${plan.headCommit.slice(0, 12)}${plan.hostBranch ? `, branch ${plan.hostBranch}` : ', detached'})`);
  console.log('files:');
  for (const f of plan.files) console.log(`  ${f.kind === 'symlink' ? 'link' : f.mode.toString(8).padStart(4, '0')}  ${formatBytes(f.size).padStart(6)}  ${showPath(f.path)}`);
  console.log(`${plan.fileCount} files, ${formatBytes(plan.bytes)} (${plan.bytes} bytes)`);
  if (plan.modified.length) console.log(`uncommitted changes carried: ${plan.modified.length} files`);
  for (const s of plan.skipped) console.log(`skipped ${showPath(s.path)}: ${s.reason}`);
}

export function workspaceCommands(vm: Command, ctx: CliContext): void {
  const ws = vm.command('workspace').description('copy a git repo into a VM, and bring the changes back as a patch');

  withPrepareFlags(ws.command('prepare'))
    .description('copy a host git repo into a running VM (tracked files; the guest repo\'s HEAD is the host\'s HEAD commit)')
    .argument('<vm>', 'VM name')
    .argument('[path]', 'the host repo (any directory inside it)', '.')
    .option('--dry-run', 'print what would be copied (the daemon plans it from the host repo); needs no VM')
    .option('--json', 'print the API result (or, with --dry-run, the plan) as JSON')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  banger vm workspace prepare web                        # this repo into /root/repo',
        '  banger vm workspace prepare web ~/src/app --include-untracked',
        '  banger vm workspace prepare web . --branch agent/fix --from origin/main',
        '  banger vm workspace prepare web --mode full_copy       # whole history, submodules too',
        '  banger vm workspace prepare web --dry-run',
        '',
        'Uncommitted changes to tracked files are copied as they are and stay uncommitted in the guest;',
        'export diffs against that prepared state, so its patch applies to the host working tree.',
      ].join('\n'),
    )
    .action(async (name: string, path: string, o: PrepareFlags & { dryRun?: boolean; json?: boolean }) => {
      const p = await prepareParams(name, path, o);
      if (!o.dryRun) return prepareWorkspace(ctx, name, path, o);
      const plan = await planOf(ctx, p, true);
      if (o.json) console.log(JSON.stringify(plan, null, 2));
      else printPlan(plan);
    });

  ws.command('export')
    .description("the guest's changes since prepare (commits, edits, new files) as a git patch")
    .argument('<vm>', 'VM name')
    .option('--guest-path <path>', 'the guest repo (default: the recorded workspace)')
    .option('--base-commit <sha>', 'diff against this commit (default: the prepared state)')
    .option('-o, --output <file>', 'write the patch to a file instead of stdout')
    .option('--apply', 'apply the patch to the host repo (3-way; refuses to touch uncommitted host changes, or to make symlinks pointing out of the repo)')
    .option('--repo <path>', 'with --apply: the host repo (default: where the workspace came from)')
    .option('--name-only', 'list the changed files')
    .option('--json', 'print the API result as JSON (with --name-only, --apply or -o)')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  banger vm workspace export web > changes.patch',
        '  banger vm workspace export web -o changes.patch && git apply --3way changes.patch',
        '  banger vm workspace export web --name-only',
        '  banger vm workspace export web --apply                 # staged in the host repo: git diff --cached',
      ].join('\n'),
    )
    .action(async (name: string, o: { guestPath?: string; baseCommit?: string; output?: string; apply?: boolean; repo?: string; nameOnly?: boolean; json?: boolean }) => {
      if (o.output && (o.apply || o.nameOnly)) throw new BangerError('bad_request', '-o goes without --apply and --name-only');
      const toStdout = !o.output && !o.apply && !o.nameOnly;
      if (o.json && toStdout) throw new BangerError('bad_request', '--json needs --name-only, --apply or -o (the patch itself goes to stdout)');
      const fd = o.output ? openSync(o.output, 'w') : toStdout ? 1 : null;
      let r;
      try {
        r = await ctx.api(
          'workspace.export',
          { name, guestPath: o.guestPath, baseCommit: o.baseCommit, nameOnly: o.nameOnly ?? false, apply: o.apply ?? false, repo: o.repo ? resolve(o.repo) : undefined },
          { progress: !toStdout || !process.stdout.isTTY, onStream: (_s, data) => fd !== null && writeSync(fd, data) },
        );
      } finally {
        if (o.output && fd !== null) closeSync(fd);
      }
      if (o.json) return void console.log(JSON.stringify(r, null, 2));
      if (o.nameOnly) return void r.files.forEach((f) => console.log(showPath(f)));
      if (r.files.length === 0) return void console.error(`no changes in the guest since ${r.baseCommit.slice(0, 12)}`);
      if (r.appliedTo) console.error(`applied changes to ${r.files.length} files in ${r.appliedTo} (staged: review with \`git diff --cached\`)`);
      else if (o.output) console.error(`wrote changes to ${r.files.length} files (${formatBytes(r.bytes)}) to ${o.output}`);
    });
}

/** Before `vm run --rm` deletes a VM: how many files changed in its workspace, and how to keep them. */
export async function changedFilesNotice(ctx: CliContext, name: string): Promise<string | null> {
  const r = await ctx.api('workspace.export', { name, nameOnly: true }, { progress: false });
  if (r.files.length === 0) return null;
  return `${r.files.length} file${r.files.length === 1 ? '' : 's'} changed in the guest workspace of ${name}; --rm deletes them with the VM. To keep them, run without --rm, or export first: \`banger vm workspace export ${name} -o changes.patch\``;
}

/**
 * `vm exec --auto-prepare`: the host HEAD moved, so prepare the workspace again from the same host
 * repo into the same guest path. Prepare never writes into a used path, so the old tree is moved
 * aside first and removed only once the new one is in place (moved back if prepare fails).
 * Refused when the guest has changes since the last prepare: they would be lost.
 */
export async function resyncWorkspace(ctx: CliContext, name: string, ws: Workspace): Promise<void> {
  const changed = await ctx.api('workspace.export', { name, nameOnly: true }, { progress: false });
  if (changed.files.length > 0) {
    throw new BangerError(
      'conflict',
      `${name}'s workspace has ${changed.files.length} changed file${changed.files.length === 1 ? '' : 's'} since it was prepared; re-syncing would discard them: export them first (\`banger vm workspace export ${name} -o changes.patch\`), or run without --auto-prepare`,
    );
  }
  const guest = (script: string) =>
    ctx.api('vm.exec', { name, argv: ['sh', '-c', script, 'banger-resync', ws.guestPath], cwd: '/', stdin: false }, { progress: false, onStream: (_s, d) => process.stderr.write(d) });
  const aside = await guest('rm -rf -- "$1.banger-old" && mv -T -- "$1" "$1.banger-old"');
  if (aside.exitCode !== 0) throw new BangerError('internal', `could not move ${ws.guestPath} aside in ${name} to re-sync it (exit ${aside.exitCode})`);
  try {
    await prepareWorkspace(ctx, name, ws.hostSource, { guestPath: ws.guestPath, mode: ws.mode });
  } catch (err) {
    await guest('rm -rf -- "$1" && mv -T -- "$1.banger-old" "$1"').catch(() => undefined);
    throw err;
  }
  await guest('rm -rf -- "$1.banger-old"');
}
