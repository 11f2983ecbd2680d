/** banger ui: starts the daemon's loopback HTTP listener if needed and prints a one-time URL to the web UI. */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';

export function uiCommand(program: Command, ctx: CliContext): void {
  program
    .command('ui')
    .description('print a one-time URL (valid 5 minutes) that opens the web UI on 127.0.0.1: VMs, consoles, terminals, workspace diffs')
    .option('--json', 'print as JSON')
    .action(async (o: { json?: boolean }) => {
      const r = await ctx.api('ui.open', {}, { progress: false });
      console.log(o.json ? JSON.stringify(r) : r.url);
    });
}
