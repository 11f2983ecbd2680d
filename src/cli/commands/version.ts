import { Command } from 'commander';
import { buildInfo } from '../../host/version.js';

export const versionLine = () => {
  const b = buildInfo();
  return `banger ${b.version} (commit ${b.commit}, built ${b.builtAt})`;
};

export function versionCommand(program: Command): void {
  program
    .command('version')
    .description('print version, commit and build time')
    .option('--json', 'print as JSON')
    .action((o: { json?: boolean }) => console.log(o.json ? JSON.stringify(buildInfo()) : versionLine()));
}
