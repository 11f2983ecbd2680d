/**
 * banger system install|status|restart|uninstall: the systemd install of bangerd + bangerd-root (src/system/).
 * src/system/ (its API schemas, the config loader, the socket probe) is imported inside the actions, so
 * every other command starts without it (issue 13).
 */
import { Command } from 'commander';
import { BangerError } from '../../api/errors.js';
import type { SystemDeps } from '../../system/install.js';
import { ReportedFailure } from '../targets.js';

interface RootOpt {
  root?: string;
}

/** --root DIR (or BANGER_SYSTEM_ROOT) writes under DIR and never runs systemctl: for tests. */
async function deps(o: RootOpt, mustManage: boolean): Promise<SystemDeps> {
  const [{ systemPaths }, { bangerBinaries }, { probeSocket }, { noSystemctl, realSystemctl, systemdRunning }] = await Promise.all([
    import('../../store/paths.js'),
    import('../../system/plan.js'),
    import('../../system/probe.js'),
    import('../../system/systemctl.js'),
  ]);
  const filesOnly = o.root !== undefined || !!process.env.BANGER_SYSTEM_ROOT;
  const sys = systemPaths(process.env, o.root);
  let systemctl = filesOnly ? noSystemctl('--root') : systemdRunning() ? realSystemctl() : noSystemctl('systemd is not running');
  if (mustManage && !systemctl.live && !filesOnly) {
    throw new BangerError('unavailable', 'systemd is not running on this host (no /run/systemd/system); banger system needs systemd as PID 1. Without it, run bangerd yourself (any banger command starts it)');
  }
  return { sys, systemctl, probe: probeSocket, binaries: bangerBinaries(), out: (l) => console.log(l) };
}

function needRoot(cmd: string): void {
  if (process.getuid?.() !== 0) throw new BangerError('bad_request', `this needs root: run \`sudo banger system ${cmd}\``);
}

const ROOT_HELP = 'write under DIR instead of / and do not run systemctl (tests)';

export function systemCommands(program: Command): void {
  const s = program
    .command('system')
    .description('install bangerd (as a user) and its root helper bangerd-root as systemd services')
    .addHelpText('after', '\nExamples:\n  sudo banger system install            # for the user who ran sudo\n  banger system status\n  sudo banger system restart\n  sudo banger system uninstall');

  s.command('install')
    .summary('write, enable and start bangerd.service and bangerd-root.service')
    .description('write and enable bangerd.service (as the owner) and bangerd-root.service (root, bounded capabilities), record the install in /etc/banger/install.json and wait until both answer; running it again updates the units and keeps the install ID')
    .option('--owner <user>', 'the user bangerd runs as (default: SUDO_USER)')
    .option('--root <dir>', ROOT_HELP)
    .addHelpText('after', '\nExamples:\n  sudo banger system install\n  sudo banger system install --owner alice')
    .action(async (o: RootOpt & { owner?: string }) => {
      needRoot('install');
      const d = await deps(o, true);
      const [{ lookupUser, ownerName }, { install }] = await Promise.all([import('../../system/users.js'), import('../../system/install.js')]);
      const owner = await lookupUser(ownerName(o.owner, process.env.SUDO_USER));
      const r = await install(owner, d);
      console.log(`installed for ${r.owner} (install ID ${r.installId})`);
    });

  s.command('status')
    .summary('owner, install ID, units and whether both sockets answer')
    .description('whether banger is installed system-wide: owner, install ID, unit files (current? hardening kept?), unit states (systemctl is-active; "unknown" under --root or without systemd), whether both sockets answer. Exits 1 when installed but a socket does not answer (not with --json)')
    .option('--json', 'print the status as JSON')
    .option('--root <dir>', ROOT_HELP)
    .addHelpText('after', '\nExamples:\n  banger system status\n  banger system status --json')
    .action(async (o: RootOpt & { json?: boolean }) => {
      const { gatherStatus, renderStatus } = await import('../../system/status.js');
      const st = await gatherStatus(await deps(o, false));
      if (o.json) console.log(JSON.stringify(st, null, 2));
      else console.log(renderStatus(st).join('\n'));
      if (st.record && !(st.daemon?.answering && st.helper?.answering) && !o.json) throw new ReportedFailure(1);
    });

  s.command('restart')
    .summary('restart both units (VMs keep running)')
    .description('restart bangerd-root and bangerd and wait until both answer; running VMs keep running and are adopted')
    .option('--root <dir>', ROOT_HELP)
    .addHelpText('after', '\nExamples:\n  sudo banger system restart')
    .action(async (o: RootOpt) => {
      needRoot('restart');
      const d = await deps(o, true);
      const { restart } = await import('../../system/install.js');
      await restart(d);
    });

  s.command('uninstall')
    .summary('stop, disable and remove exactly what install added')
    .description('stop and disable both units and remove exactly the files install wrote; the owner\'s images, kernels and VMs stay unless --purge. Refuses while VMs run unless --force (which stops them first)')
    .option('--purge', "also delete the owner's banger state dir (images, kernels, VM disks)")
    .option('--force', 'stop running VMs instead of refusing (with --purge: also when bangerd does not answer)')
    .option('--root <dir>', ROOT_HELP)
    .addHelpText('after', '\nExamples:\n  sudo banger system uninstall\n  sudo banger system uninstall --purge --force   # stop VMs, delete everything')
    .action(async (o: RootOpt & { purge?: boolean; force?: boolean }) => {
      needRoot('uninstall');
      const d = await deps(o, false);
      const { uninstall } = await import('../../system/install.js');
      await uninstall({ purge: !!o.purge, force: !!o.force }, d);
    });
}
