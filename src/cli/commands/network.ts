/** banger dns, banger ssh-config, banger vm ports, banger vm forward. */
import type { Command } from 'commander';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { VmForwardsResult, VmPorts } from '../../api/network.js';
import { parseForwardSpec } from '../../network/ports.js';
import { installInclude, uninstallInclude } from '../../network/sshconfig.js';
import { BangerError } from '../../api/errors.js';
import type { CliContext } from '../context.js';
import { table } from '../table.js';
import { forEachTarget } from '../targets.js';
import { stripControls } from '../controlstrip.js';

/** Process names come from the guest: escape sequences in them are dropped (cli/controlstrip.ts). */
export function portsTable(r: VmPorts): string {
  if (r.ports.length === 0) return `${r.name}: no listening TCP ports`;
  return table(
    ['PORT', 'PROCESS', 'ENDPOINT', 'URL'],
    r.ports.map((p) => [String(p.port), p.process === null ? '-' : stripControls(p.process), p.endpoint ?? (r.mode === 'user' ? `- (banger vm forward ${r.name} ${p.port})` : '- (guest-local)'), p.url ?? '']),
  );
}

export function forwardsTable(r: VmForwardsResult): string {
  if (r.forwards.length === 0) return `${r.name}: no forwards (SSH is always forwarded)`;
  return table(
    ['GUEST', 'HOST', 'STATE'],
    r.forwards.map((f) => [String(f.guestPort), f.hostPort === null ? '(at start)' : `127.0.0.1:${f.hostPort}`, f.active ? 'active' : 'at next start']),
  );
}

export function networkCommands(program: Command, vm: Command, ctx: CliContext): void {
  const { api } = ctx;
  const dns = program.command('dns').description("banger's DNS server for NAME.vm names");
  dns
    .command('status')
    .description('where banger answers NAME.vm, its records, and whether systemd-resolved routes .vm to it')
    .option('--json', 'print the API result as JSON')
    .action(async (o: { json?: boolean }) => {
      const s = await api('dns.status', {}, { progress: false });
      if (o.json) return void console.log(JSON.stringify(s, null, 2));
      const at = `${s.host}:${s.port}`;
      console.log(s.listening ? `dns: answering NAME.vm on ${at}` : `dns: NOT listening on ${at}: ${s.error ?? 'not started'}`);
      const r = s.resolved;
      console.log(
        !r.active
          ? 'systemd-resolved: not in use here (use `banger ssh-config --install` for `ssh NAME.vm`)'
          : r.current
            ? `systemd-resolved: routes .vm to banger (${r.path})`
            : `systemd-resolved: does not route .vm to banger; run \`banger dns install\``,
      );
      if (s.records.length) console.log(`\n${table(['NAME', 'ADDRESS'], s.records.map((x) => [x.name, x.address]))}`);
    });
  dns
    .command('install')
    .description('route the vm domain to banger through systemd-resolved (a drop-in; needs root or bangerd-root)')
    .action(async () => {
      const r = await api('dns.install', {}, { progress: false });
      console.log(r.changed ? `systemd-resolved now sends .vm queries to banger (${r.path})` : `already installed (${r.path})`);
    });
  dns
    .command('uninstall')
    .description("remove banger's systemd-resolved drop-in")
    .action(async () => {
      const r = await api('dns.uninstall', {}, { progress: false });
      console.log(r.changed ? `removed ${r.path}` : 'not installed');
    });

  program
    .command('ssh-config')
    .description("print banger's ssh_config (Host NAME.vm entries); --install includes it from ~/.ssh/config so `ssh NAME.vm` works")
    .option('--install', 'add a marked Include of it at the top of ~/.ssh/config (idempotent)')
    .option('--uninstall', 'remove that Include again')
    .addHelpText('after', '\nExamples:\n  banger ssh-config --install && ssh web.vm\n  ssh -F "$(banger ssh-config --path)" web.vm')
    .option('--path', "print only the path of banger's ssh_config")
    .action(async (o: { install?: boolean; uninstall?: boolean; path?: boolean }) => {
      if (o.install && o.uninstall) throw new BangerError('bad_request', 'pass --install or --uninstall, not both');
      const userConfig = join(homedir(), '.ssh', 'config');
      if (o.uninstall) {
        const r = await uninstallInclude(userConfig);
        return void console.log(r.changed ? `removed banger's Include from ${userConfig}` : `${userConfig} has no Include of banger's`);
      }
      const c = await api('sshConfig.show', {}, { progress: false });
      if (o.install) {
        const r = await installInclude(userConfig, c.path);
        return void console.log(`${r.changed ? 'added' : 'already there:'} Include ${c.path} in ${userConfig}; \`ssh NAME.vm\` now works`);
      }
      process.stdout.write(o.path ? `${c.path}\n` : c.text);
    });

  vm.command('ports')
    .description("a VM's listening TCP ports and the host endpoint that reaches each (with an http:// link where one answers)")
    .argument('<names...>')
    .option('--json', 'print the API results as JSON')
    .action(async (names: string[], o: { json?: boolean }) => {
      const several = names.length > 1;
      await forEachTarget(
        names,
        (name) => api('vm.ports', { name }, { progress: false }),
        (n, r) => (o.json ? JSON.stringify(r, null, 2) : several ? `${n}:\n${portsTable(r)}\n` : portsTable(r)),
      );
    });

  vm.command('forward')
    .description('forward a guest port to 127.0.0.1 (user mode); without a port, list the forwards; kept across restarts')
    .argument('<name>')
    .argument('[port]', 'GUEST_PORT[:HOST_PORT] (default host port: a free one)')
    .option('--rm', 'remove the forward of GUEST_PORT')
    .option('--json', 'print the API result as JSON')
    .addHelpText('after', '\nExamples:\n  banger vm forward web 8080          # 127.0.0.1:<free port> → guest 8080\n  banger vm forward web 8080:18080\n  banger vm forward web 8080 --rm\n  banger vm forward web               # list')
    .action(async (name: string, spec: string | undefined, o: { rm?: boolean; json?: boolean }) => {
      let r: VmForwardsResult;
      if (!spec) {
        if (o.rm) throw new BangerError('bad_request', '--rm needs the guest port to stop forwarding, e.g. `banger vm forward NAME 8080 --rm`');
        r = await api('vm.forwards', { name }, { progress: false });
      } else {
        const f = parseForwardSpec(spec);
        if (o.rm && f.hostPort !== undefined) throw new BangerError('bad_request', '--rm takes only the guest port, e.g. `banger vm forward NAME 8080 --rm`');
        r = o.rm
          ? await api('vm.unforward', { name, guestPort: f.guestPort }, { progress: false })
          : await api('vm.forward', { name, guestPort: f.guestPort, hostPort: f.hostPort }, { progress: false });
        if (!o.json && !o.rm) {
          const got = r.forwards.find((x) => x.guestPort === f.guestPort);
          if (got?.hostPort) console.error(`${name}: guest port ${f.guestPort} → 127.0.0.1:${got.hostPort}${got.active ? '' : ' (from the next start)'}`);
        }
      }
      console.log(o.json ? JSON.stringify(r, null, 2) : forwardsTable(r));
    });
}
