/**
 * banger doctor: renders doctor/doctor.ts's checks (host, system install, daemon, default image and kernel).
 * The checks and src/system/ are imported inside the action: other commands start without them.
 */
import { Command } from 'commander';
import type { CliContext } from '../context.js';
import { ReportedFailure } from '../targets.js';

const MARK = { pass: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;

export function doctorCommand(program: Command, ctx: CliContext): void {
  program
    .command('doctor')
    .description('check this host: architecture, Node, QEMU, KVM, tools, directories, system install (units, hardening, helper), daemon, default image and kernel')
    .option('--json', 'print the checks as JSON')
    .action(async (o: { json?: boolean }) => {
      const [{ doctorFailed, runDoctor }, { systemPaths }, { bangerBinaries }, { probeSocket }, { gatherStatus }, { noSystemctl, realSystemctl, systemdRunning }] = await Promise.all([
        import('../../doctor/doctor.js'),
        import('../../store/paths.js'),
        import('../../system/plan.js'),
        import('../../system/probe.js'),
        import('../../system/status.js'),
        import('../../system/systemctl.js'),
      ]);
      const checks = await runDoctor({
        paths: ctx.paths,
        uid: process.getuid?.() ?? -1,
        systemStatus: () => {
          const systemctl = systemdRunning() && !process.env.BANGER_SYSTEM_ROOT ? realSystemctl() : noSystemctl('systemd is not running');
          return gatherStatus({ sys: systemPaths(), systemctl, probe: probeSocket, binaries: bangerBinaries() });
        },
        daemonStatus: () => ctx.api('daemon.status', {}, { progress: false }),
        daemonChecks: () => ctx.api('daemon.doctor', {}, { progress: false }),
      });
      if (o.json) console.log(JSON.stringify(checks, null, 2));
      else for (const c of checks) console.log(`${MARK[c.verdict]}  ${c.name.padEnd(16)} ${c.detail}${c.fix ? `\n      → ${c.fix}` : ''}`);
      if (doctorFailed(checks)) throw new ReportedFailure(1);
    });
}
