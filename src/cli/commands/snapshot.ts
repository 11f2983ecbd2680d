/** vm snapshot, vm fork, snapshot list/show/delete. */
import type { Command } from 'commander';
import { formatBytes } from '../../api/names.js';
import type { Snapshot } from '../../api/snapshot.js';
import type { CliContext } from '../context.js';
import { formatElapsed } from '../progress.js';
import { age, table } from '../table.js';
import { forEachTarget } from '../targets.js';

const doneLine = (ms: number) => `done in ${formatElapsed(ms)}`;

function users(s: Snapshot): string {
  const all = [...s.usedBy.vms, ...s.usedBy.snapshots];
  return all.length ? all.join(',') : '-';
}

function describe(s: Snapshot): string {
  const lines = [
    `${s.name} (${s.kind}${s.sourceVm ? `, from VM ${s.sourceVm}` : ''}${s.parent ? `, on ${s.parent}` : ''})`,
    `  image ${s.image}, kernel ${s.kernel}, ${s.vcpu} vCPU, ${s.memoryMib} MiB, disk ${formatBytes(s.diskSizeBytes)}, ${s.hypervisor}/${s.accel}`,
    `  state ${formatBytes(s.stateBytes)}, layer ${s.layerBytes === null ? '?' : formatBytes(s.layerBytes)}, taken ${age(s.createdAt)}`,
    `  used by: ${users(s)}`,
  ];
  if (s.workspace) lines.push(`  workspace ${s.workspace.guestPath} (${s.workspace.headCommit.slice(0, 12)})`);
  return lines.join('\n');
}

export function snapshotCommands(program: Command, vm: Command, ctx: CliContext): void {
  const { api } = ctx;
  vm.command('snapshot')
    .description('save a running VM (memory, devices, disk) as a snapshot; the VM resumes unless --stop')
    .argument('<vm>')
    .option('--name <snapshot>', 'snapshot name (default: VM-yyyymmdd-hhmmss)')
    .option('--stop', 'leave the VM stopped; its next `vm start` resumes from the snapshot')
    .option('--json', 'print the API result as JSON')
    .addHelpText('after', '\nExamples:\n  banger vm snapshot web --name web-ready\n  banger vm fork web-ready --name try --count 3')
    .action(async (name: string, o: { name?: string; stop?: boolean; json?: boolean }) => {
      const s = await api('vm.snapshot', { name, snapshot: o.name, stop: o.stop ?? false }, { doneLine });
      if (o.json) return void console.log(JSON.stringify(s, null, 2));
      console.log(`${s.name}: saved ${name} (state ${formatBytes(s.stateBytes)})${o.stop ? `; ${name} is stopped` : ''}`);
    });

  vm.command('fork')
    .description('new VMs restored from a snapshot (or from a running VM, snapshotted first), each with its own disk and identity')
    .argument('<source>', 'snapshot name, or a running VM')
    .requiredOption('--name <name>', 'name of the new VM (NAME-1 ... NAME-N with --count)')
    .option('--count <n>', 'how many VMs', (v) => Number(v), 1)
    .option('--no-egress', 'block outbound traffic from the new VMs')
    .option('--json', 'print the API result as JSON')
    .addHelpText('after', '\nExamples:\n  banger vm fork web --name web-copy\n  banger vm fork web-ready --name try --count 4')
    .action(async (source: string, o: { name: string; count: number; egress: boolean; json?: boolean }) => {
      const r = await api('vm.fork', { source, name: o.name, count: o.count, egress: o.egress }, { doneLine });
      if (o.json) return void console.log(JSON.stringify(r, null, 2));
      for (const v of r.vms) console.log(`${v.name}: ${v.state}${v.ssh ? ` (ssh ${v.ssh.host}:${v.ssh.port})` : ''} from ${r.snapshot}`);
    });

  const s = program.command('snapshot').description('saved VMs to fork from');
  s.command('list')
    .alias('ls')
    .description('list snapshots (warm:IMAGE are banger\'s cached post-boot snapshots)')
    .option('--json', 'print the API result as JSON')
    .action(async (o: { json?: boolean }) => {
      const r = await api('snapshot.list', {}, { progress: false });
      if (o.json) return void console.log(JSON.stringify(r, null, 2));
      console.log(
        table(
          ['NAME', 'KIND', 'FROM', 'IMAGE', 'MEMORY', 'STATE', 'USED BY', 'TAKEN'],
          r.snapshots.map((x) => [x.name, x.kind, x.sourceVm ?? '-', x.image, `${x.memoryMib}M`, formatBytes(x.stateBytes), users(x), age(x.createdAt)]),
        ),
      );
    });
  s.command('show')
    .description('show a snapshot')
    .argument('<name>')
    .option('--json', 'print the API result as JSON')
    .action(async (name: string, o: { json?: boolean }) => {
      const r = await api('snapshot.show', { name }, { progress: false });
      console.log(o.json ? JSON.stringify(r, null, 2) : describe(r));
    });
  s.command('delete')
    .alias('rm')
    .description('delete snapshots (refused while a VM or snapshot sits on one)')
    .argument('<names...>')
    .option('--json', 'print the API results as JSON')
    .action(async (names: string[], o: { json?: boolean }) => {
      await forEachTarget(
        names,
        (name) => api('snapshot.delete', { name }, { progress: false }),
        (n, r) => (o.json ? JSON.stringify(r) : `${n}: deleted`),
      );
    });
}
