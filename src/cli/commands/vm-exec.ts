/** vm exec and vm ssh. */
import { Command } from 'commander';
import { BangerError } from '../../api/errors.js';
import type { CliContext } from '../context.js';
import { execInVm, sshToVm } from '../guest-io.js';

export function execCommands(vm: Command, ctx: CliContext): void {
  vm.command('exec')
    .description('run a command in a running VM; output streams, stdin passes through, the exit code is the guest\'s')
    .argument('<name>')
    .option('-w, --workdir <dir>', 'guest directory (default: the workspace, else home)')
    .addHelpText('after', '\nExamples:\n  banger vm exec web -- uname -a\n  tar c src | banger vm exec web -- tar x -C /tmp')
    .action(async (name: string, o: { workdir?: string }) => {
      const cmd = ctx.guest;
      if (!cmd || cmd.length === 0) throw new BangerError('bad_request', 'give the command after --, e.g. `banger vm exec web -- uname -a`');
      process.exitCode = await execInVm(ctx, name, cmd, { cwd: o.workdir });
    });

  vm.command('ssh')
    .description('open a shell in a VM over ssh, or run a shell command line like ssh does (banger vm ssh NAME -- \'ls | wc -l\')')
    .argument('<name>')
    .action(async (name: string) => {
      process.exitCode = await sshToVm(ctx, name, ctx.guest);
    });
}
