/** The banger CLI: parse, call the daemon, render. No VM logic here. */
import { Command } from 'commander';
import { setGuestCommand, splitGuestCommand } from './argv.js';
import { daemonCommands } from './commands/daemon.js';
import { createCommands } from './commands/vm-create.js';
import { execCommands } from './commands/vm-exec.js';
import { lifecycleCommands } from './commands/vm-lifecycle.js';
import { listCommands } from './commands/vm-list.js';
import { versionCommand, versionLine } from './commands/version.js';
import { registerExtraCommands } from './commands/index.js';
import { describeError } from './targets.js';

export function buildProgram(): Command {
  const program = new Command('banger')
    .description('one-command development sandboxes on microVMs')
    .version(versionLine(), '-V, --version')
    .showHelpAfterError()
    .addHelpText('after', '\nExamples:\n  banger vm run -- uname -a          boot a VM, run a command, keep the VM\n  banger vm run --rm -- make test    ... and delete it afterwards\n  banger vm list\n  banger doctor');
  const vm = program.command('vm').description('create, run and manage VMs');
  createCommands(vm);
  lifecycleCommands(vm);
  listCommands(vm);
  execCommands(vm);
  daemonCommands(program);
  versionCommand(program);
  registerExtraCommands(program, vm);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const { own, guest } = splitGuestCommand(argv.slice(2));
  setGuestCommand(guest);
  try {
    await buildProgram().parseAsync(own, { from: 'user' });
  } catch (err) {
    const { message, exitCode } = describeError(err);
    if (message) process.stderr.write(`${message}\n`);
    process.exitCode = exitCode;
  }
}
