/** vm exec and vm ssh. */
import { Command } from 'commander';
import { BangerError } from '../../api/errors.js';
import type { CliContext } from '../context.js';
import { execInVm, sshToVm } from '../guest-io.js';
import { resyncWorkspace } from './workspace.js';

/**
 * --auto-prepare, before a command in the workspace: re-sync it when the host HEAD moved since prepare.
 * (Without it the daemon checks, in the vm.exec call itself, and sends the warning: `reportDrift`.)
 */
async function autoPrepare(ctx: CliContext, name: string): Promise<void> {
  const ws = (await ctx.api('vm.show', { name }, { progress: false })).workspace;
  if (!ws) throw new BangerError('bad_request', `${name} has no workspace to re-sync: prepare one with \`banger vm workspace prepare ${name} PATH\``);
  const head = (await ctx.api('workspace.plan', { hostPath: ws.hostSource, mode: ws.mode, listFiles: false }, { progress: false })).headCommit;
  if (head !== ws.headCommit) await resyncWorkspace(ctx, name, ws);
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
      if (o.autoPrepare) await autoPrepare(ctx, name);
      // In the workspace (no -w): the daemon warns when the host HEAD moved since prepare, in the same call.
      process.exitCode = await execInVm(ctx, name, cmd, { cwd: o.workdir, reportDrift: o.workdir === undefined && !o.autoPrepare });
    });

  vm.command('ssh')
    .description('open a shell in a VM over ssh, or run a shell command line like ssh does (banger vm ssh NAME -- \'ls | wc -l\')')
    .argument('<name>')
    .action(async (name: string) => {
      process.exitCode = await sshToVm(ctx, name, ctx.guest);
    });
}
