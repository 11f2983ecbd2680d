/**
 * Commands beyond `vm` and `daemon`: one import and one line per command module. A module's
 * registration runs on every start (for routing, `--help` and completion), so it defines names,
 * options and help only; heavy dependencies (servers, SDKs, native modules) are imported inside the
 * action (`const { serve } = await import('../../serve/server.js')`), which in the CLI bundle
 * (scripts/bundle.mjs) stays unevaluated until that command runs.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { completionCommands } from './completion.js';
import { doctorCommand } from './doctor.js';
import { imageCommands } from './image.js';
import { kernelCommands } from './kernel.js';
import { mcpCommand } from './mcp.js';
import { networkCommands } from './network.js';
import { serveCommand } from './serve.js';
import { snapshotCommands } from './snapshot.js';
import { systemCommands } from './system.js';
import { uiCommand } from './ui.js';
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
  mcpCommand(program, ctx);
  uiCommand(program, ctx);
}
