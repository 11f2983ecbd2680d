/** The banger CLI: parse, call the daemon, render. No VM logic here. */
import './jitless.js'; // first: before any module builds a zod schema
import { Command, CommanderError } from 'commander';
import { splitGuestCommand } from './argv.js';
import { daemonCommands } from './commands/daemon.js';
import { createCommands } from './commands/vm-create.js';
import { execCommands } from './commands/vm-exec.js';
import { lifecycleCommands } from './commands/vm-lifecycle.js';
import { listCommands } from './commands/vm-list.js';
import { versionCommand, versionLine } from './commands/version.js';
import { registerExtraCommands } from './commands/index.js';
import { createCliContext, type CliContext } from './context.js';
import { describeError, usageExitCode } from './targets.js';

export function buildProgram(ctx: CliContext = createCliContext()): Command {
  const program = new Command('banger')
    .description('one-command development sandboxes on microVMs')
    .version(versionLine(), '-V, --version')
    .showHelpAfterError()
    // Commander's own usage errors (unknown option, missing argument) end up in main's catch; every subcommand inherits this.
    .exitOverride()
    .addHelpText('after', '\nExamples:\n  banger vm run -- uname -a          boot a VM, run a command, keep the VM\n  banger vm run --rm -- make test    ... and delete it afterwards\n  banger vm list\n  banger doctor');
  const vm = program.command('vm').description('create, run and manage VMs');
  createCommands(vm, ctx);
  lifecycleCommands(vm, ctx);
  listCommands(vm, ctx);
  execCommands(vm, ctx);
  daemonCommands(program, ctx);
  versionCommand(program);
  registerExtraCommands(program, vm, ctx);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  // `banger vm list | head`: a reader that left is the end of output, not a crash (as for cat).
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  const { own, guest } = splitGuestCommand(argv.slice(2));
  try {
    await buildProgram(createCliContext({ guest })).parseAsync(own, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = usageExitCode(err); // commander has printed the message (and help) already
      return;
    }
    const { message, exitCode } = describeError(err);
    if (message) process.stderr.write(`${message}\n`);
    process.exitCode = exitCode;
  }
}
