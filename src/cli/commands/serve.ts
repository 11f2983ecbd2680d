/**
 * `banger serve`: makes sure the daemon's loopback HTTP listener is up (with the E2B-compatible
 * endpoint) and prints its URL; `--print-env` prints the shell lines the `e2b` SDK reads instead.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { BangerError } from '../../api/errors.js';
import type { CliContext } from '../context.js';

export function serveCommand(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('start the loopback HTTP endpoint (E2B-compatible API for the `e2b` SDK) and print its URL')
    .option('--print-env', 'print `export E2B_API_URL=… E2B_SANDBOX_URL=… E2B_API_KEY=…` for the e2b SDK')
    .action(async (o: { printEnv?: boolean }) => {
      const { url } = await ctx.api('daemon.http', {}, { progress: false });
      if (!o.printEnv) return void console.log(url);
      let key: string;
      try {
        key = readFileSync(ctx.paths.e2bApiKey, 'utf8').trim();
      } catch (err) {
        throw new BangerError('unavailable', `cannot read the E2B API key ${ctx.paths.e2bApiKey} (${(err as Error).message}); restart the daemon (banger daemon stop) so it creates one`);
      }
      console.log([`export E2B_API_URL=${url}`, `export E2B_SANDBOX_URL=${url}`, `export E2B_API_KEY=${key}`].join('\n'));
    });
}
