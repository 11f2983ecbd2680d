/** Commands for images, kernels, doctor and completion are registered here as they land. */
import type { Command } from 'commander';

export function registerExtraCommands(_program: Command, _vm: Command): void {}
