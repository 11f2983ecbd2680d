/** Commands beyond `vm` and `daemon`. */
import type { Command } from 'commander';
import { doctorCommand } from './doctor.js';
import { imageCommands } from './image.js';
import { kernelCommands } from './kernel.js';

export function registerExtraCommands(program: Command, _vm: Command): void {
  kernelCommands(program);
  imageCommands(program);
  doctorCommand(program);
}
