/** Commands beyond `vm` and `daemon`. */
import type { Command } from 'commander';
import { completionCommands } from './completion.js';
import { doctorCommand } from './doctor.js';
import { imageCommands } from './image.js';
import { kernelCommands } from './kernel.js';
import { networkCommands } from './network.js';
import { snapshotCommands } from './snapshot.js';
import { systemCommands } from './system.js';
import { workspaceCommands } from './workspace.js';

export function registerExtraCommands(program: Command, vm: Command): void {
  workspaceCommands(vm);
  kernelCommands(program);
  imageCommands(program);
  snapshotCommands(program, vm);
  networkCommands(program, vm);
  systemCommands(program);
  doctorCommand(program);
  completionCommands(program);
}
