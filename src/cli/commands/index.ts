/** Commands beyond `vm` and `daemon`. */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { completionCommands } from './completion.js';
import { doctorCommand } from './doctor.js';
import { imageCommands } from './image.js';
import { kernelCommands } from './kernel.js';
import { networkCommands } from './network.js';
import { serveCommand } from './serve.js';
import { snapshotCommands } from './snapshot.js';
import { systemCommands } from './system.js';
import { workspaceCommands } from './workspace.js';

export function registerExtraCommands(program: Command, vm: Command, ctx: CliContext): void {
  workspaceCommands(vm, ctx);
  kernelCommands(program, ctx);
  imageCommands(program, ctx);
  snapshotCommands(program, vm, ctx);
  networkCommands(program, vm, ctx);
  systemCommands(program);
  doctorCommand(program, ctx);
  serveCommand(program, ctx);
  completionCommands(program, ctx);
}
