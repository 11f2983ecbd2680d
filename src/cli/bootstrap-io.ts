/** The I/O of `vm run`'s bootstrap (bootstrap.ts decides): read the repo's mise configs, run the guest script. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BangerError } from '../api/errors.js';
import { MISE_CONFIG_FILES } from '../api/defaults.js';
import { BOOTSTRAP_LOG, bootstrapArgv, type BootstrapPlan, type MiseConfigFile } from './bootstrap.js';
import type { CliContext } from './context.js';

/** The mise config files at the top of the host repo `root` (at most 64 KiB of each is read). */
export async function readMiseConfigs(root: string): Promise<MiseConfigFile[]> {
  const found: MiseConfigFile[] = [];
  for (const path of MISE_CONFIG_FILES) {
    const text = await readFile(join(root, path), 'utf8').catch(() => null);
    if (text !== null) found.push({ path, text: text.slice(0, 64 * 1024) });
  }
  return found;
}

/** What the plan does, in words (for the progress line and --dry-run). */
export function describeBootstrap(plan: BootstrapPlan, guestPath: string): string {
  if (plan.kind === 'none') return 'none (no mise config in the repo)';
  if (plan.kind === 'skip') return `skipped: ${plan.reason}`;
  const what = `mise trust + mise install in ${guestPath} (${plan.files.join(', ')})`;
  return plan.background ? `${what} in the background; its log: ${BOOTSTRAP_LOG}` : what;
}

/** One line for the user about the plan (stderr), or null when there is nothing to say. */
export function bootstrapLine(vm: string, plan: BootstrapPlan, guestPath: string): string | null {
  return plan.kind === 'none' ? null : `${vm}: bootstrap: ${describeBootstrap(plan, guestPath)}`;
}

/** Runs the plan in the guest. Output goes to stderr; a failing foreground install is an error. */
export async function runBootstrap(ctx: CliContext, vm: string, plan: BootstrapPlan, guestPath: string): Promise<void> {
  const line = bootstrapLine(vm, plan, guestPath);
  if (line) console.error(line);
  if (plan.kind !== 'run') return;
  // cwd '/': the script cds itself, and must not run inside `mise exec` (vms/miseexec.ts).
  const r = await ctx.api(
    'vm.exec',
    { name: vm, argv: bootstrapArgv(guestPath, plan.background), cwd: '/', stdin: false },
    { progress: false, onStream: (_s, data) => process.stderr.write(data) },
  );
  if (r.exitCode !== 0) {
    throw new BangerError('unavailable', `bootstrap failed in ${vm} (mise exit ${r.exitCode}); fix the repo's pins, or run with --no-bootstrap`);
  }
}
