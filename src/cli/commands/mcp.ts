/** `banger mcp`: the MCP server on stdio for coding agents (src/mcp/). */
import type { Command } from 'commander';
import { buildInfo } from '../../host/version.js';
import type { CliContext } from '../context.js';

export function mcpCommand(program: Command, ctx: CliContext): void {
  program
    .command('mcp')
    .description('serve banger to a coding agent over MCP (stdio): VMs, commands, files, workspaces, snapshots')
    .addHelpText(
      'after',
      `
Tools: vm_list vm_create vm_delete vm_run file_read file_write file_list
       workspace_prepare workspace_export (apply only with apply=true) vm_snapshot vm_fork

Examples:
  claude mcp add banger -- banger mcp          register with Claude Code
  {"mcpServers": {"banger": {"command": "banger", "args": ["mcp"]}}}   in an agent's MCP config`,
    )
    .action(async () => {
      await ctx.api('daemon.status', {}, { progress: false }); // starts bangerd if it is not running
      const { serveStdio } = await import('../../mcp/server.js'); // the MCP SDK loads only for this command
      await serveStdio({ socketPath: ctx.target().socket }, buildInfo().version);
    });
}
