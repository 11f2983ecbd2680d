/** banger doctor: host checks plus the daemon, default image and kernel. */
import { Command } from 'commander';
import { evaluate, gatherFacts, type Check } from '../../host/doctor.js';
import { systemPaths } from '../../store/paths.js';
import { systemChecks } from '../../system/doctor.js';
import { bangerBinaries } from '../../system/plan.js';
import { probeSocket } from '../../system/probe.js';
import { gatherStatus } from '../../system/status.js';
import { noSystemctl, realSystemctl, systemdRunning } from '../../system/systemctl.js';
import type { CliContext } from '../context.js';
import { ReportedFailure } from '../targets.js';

const MARK = { pass: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;

export function doctorCommand(program: Command, ctx: CliContext): void {
  const { api, paths } = ctx;
  program
    .command('doctor')
    .description('check this host: architecture, Node, QEMU, KVM, tools, directories, system install (units, hardening, helper), daemon, default image and kernel')
    .option('--json', 'print the checks as JSON')
    .action(async (o: { json?: boolean }) => {
      const checks: Check[] = evaluate(await gatherFacts(paths));
      const systemctl = systemdRunning() && !process.env.BANGER_SYSTEM_ROOT ? realSystemctl() : noSystemctl('systemd is not running');
      const system = await gatherStatus({ sys: systemPaths(), systemctl, probe: probeSocket, binaries: bangerBinaries() });
      checks.push(...systemChecks(system, process.getuid?.() ?? -1));
      try {
        const s = await api('daemon.status', {}, { progress: false });
        checks.push({ name: 'daemon', verdict: 'pass', detail: `pid ${s.pid}, ${s.hypervisor} with ${s.accel}` });
        checks.push(...(await api('daemon.doctor', {}, { progress: false })));
      } catch (err) {
        checks.push({ name: 'daemon', verdict: 'fail', detail: (err as Error).message, fix: `see ${paths.daemonLog}` });
      }
      if (o.json) console.log(JSON.stringify(checks, null, 2));
      else for (const c of checks) console.log(`${MARK[c.verdict]}  ${c.name.padEnd(16)} ${c.detail}${c.fix ? `\n      → ${c.fix}` : ''}`);
      if (checks.some((c) => c.verdict === 'fail')) throw new ReportedFailure(1);
    });
}
