/** vm exec and vm ssh. */
import { Command } from 'commander';
import { BangerError } from '../../api/errors.js';
import type { CliContext } from '../context.js';
import { driftWarning } from '../drift.js';
import { execInVm, sshToVm } from '../guest-io.js';
import { resyncWorkspace } from './workspace.js';

/** Before a command in the workspace: warn when the host HEAD moved since prepare, or re-sync (--auto-prepare). */
async function checkDrift(ctx: CliContext, name: string, autoPrepare: boolean): Promise<void> {
  const ws = (await ctx.api('vm.show', { name }, { progress: false })).workspace;
  if (!ws) {
    if (autoPrepare) throw new BangerError('bad_request', `${name} has no workspace to re-sync: prepare one with \`banger vm workspace prepare ${name} PATH\``);
    return;
  }
  let head: string;
  try {
    head = (await ctx.api('workspace.plan', { hostPath: ws.hostSource, mode: ws.mode, listFiles: false }, { progress: false })).headCommit;
  } catch (err) {
    if (autoPrepare) throw err;
    return; // the host repo moved away or is unreadable: nothing to compare with, and exec goes on
  }
  const warning = driftWarning(name, ws, head);
  if (!warning) return;
  if (!autoPrepare) return void console.error(warning);
  await resyncWorkspace(ctx, name, ws);
}

export function execCommands(vm: Command, ctx: CliContext): void {
  vm.command('exec')
    .description('run a command in a running VM; output streams, stdin passes through, the exit code is the guest\'s')
    .argument('<name>')
    .option('-w, --workdir <dir>', 'guest directory (default: the workspace, else home)')
    .option('--auto-prepare', "re-sync the workspace first when the host repo's HEAD moved since it was prepared (refused when the guest has changes)")
    .addHelpText(
      'after',
      [
        '',
        'In the workspace the command runs inside `mise exec` when the repo has a mise config, so its [env]',
        "and tool versions apply; a warning says when the host repo's HEAD moved since prepare.",
        '',
        'Examples:',
        '  banger vm exec web -- uname -a',
        '  banger vm exec web --auto-prepare -- make test',
        '  tar c src | banger vm exec web -- tar x -C /tmp',
      ].join('\n'),
    )
    .action(async (name: string, o: { workdir?: string; autoPrepare?: boolean }) => {
      const cmd = ctx.guest;
      if (!cmd || cmd.length === 0) throw new BangerError('bad_request', 'give the command after --, e.g. `banger vm exec web -- uname -a`');
      if (o.workdir === undefined || o.autoPrepare) await checkDrift(ctx, name, o.autoPrepare ?? false);
      process.exitCode = await execInVm(ctx, name, cmd, { cwd: o.workdir });
    });

  vm.command('ssh')
    .description('open a shell in a VM over ssh, or run a shell command line like ssh does (banger vm ssh NAME -- \'ls | wc -l\')')
    .argument('<name>')
    .action(async (name: string) => {
      process.exitCode = await sshToVm(ctx, name, ctx.guest);
    });
}
