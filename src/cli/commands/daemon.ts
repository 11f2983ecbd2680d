/** daemon status / stop. */
import { Command } from 'commander';
import { BangerError } from '../../api/errors.js';
import type { CliContext } from '../context.js';

export function daemonCommands(program: Command, ctx: CliContext): void {
  const { api, paths } = ctx;
  const d = program.command('daemon').description('the bangerd daemon');
  d.command('status')
    .description('pid, socket, log path, version and running VMs of bangerd')
    .option('--json', 'print the API result as JSON')
    .action(async (o: { json?: boolean }) => {
      const s = await api('daemon.status', {}, { progress: false });
      if (o.json) return void console.log(JSON.stringify(s, null, 2));
      console.log(
        [
          `pid:         ${s.pid}`,
          `socket:      ${s.socket}`,
          `log:         ${s.logPath}`,
          `version:     ${s.version} (${s.commit})`,
          `started:     ${s.startedAt}`,
          `hypervisor:  ${s.hypervisor} (${s.accel}: ${s.accelReason})`,
          ...(s.hypervisorReason ? [`             ${s.hypervisorReason}`] : []),
          ...(s.bridge ? [`bridge:      ${s.bridge.available ? 'available' : 'unavailable'} (${s.bridge.reason})`] : []),
          ...(s.userNetwork ? [`user net:    ${s.userNetwork.blocked ? 'host loopback blocked' : 'HOST LOOPBACK REACHABLE'} (${s.userNetwork.reason})`] : []),
          `vms running: ${s.vmsRunning}`,
          ...(s.configWarnings ?? []).map((w) => `warning:     ${w}`),
        ].join('\n'),
      );
    });
  d.command('stop')
    .description('stop bangerd (running VMs keep running and are adopted at the next start)')
    .action(async () => {
      if (ctx.target().system) {
        throw new BangerError('conflict', 'bangerd runs as a system service (bangerd.service): restart it with `sudo banger system restart`, or stop it with `sudo systemctl stop bangerd.service` (VMs keep running)');
      }
      try {
        const [{ call }, { pidAlive }] = await Promise.all([import('../../api/client.js'), import('../../host/exec.js')]);
        const { pid } = await call(paths.daemonSocket, 'daemon.status', {});
        await call(paths.daemonSocket, 'daemon.stop', {});
        // "stopped" means exited: its database is closed and its files are safe to copy.
        const deadline = Date.now() + 15_000;
        while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        if (pidAlive(pid)) throw new BangerError('unavailable', `bangerd (pid ${pid}) did not exit within 15s; see ${paths.daemonLog}`);
        console.log('bangerd stopped');
      } catch (err) {
        if (err instanceof BangerError && err.code === 'unavailable') return void console.log('bangerd is not running');
        throw err;
      }
    });
}
