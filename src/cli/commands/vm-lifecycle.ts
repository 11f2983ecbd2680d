/** vm start/stop/restart/kill/delete/prune/set: thin wrappers, several targets at once. */
import { Command, Option } from 'commander';
import { BangerError } from '../../api/errors.js';
import { checkSizeFlag } from '../../api/names.js';
import { canAsk, confirm } from '../confirm.js';
import type { CliContext } from '../context.js';
import { forEachTarget } from '../targets.js';
import { formatElapsed } from '../progress.js';

export function lifecycleCommands(vm: Command, ctx: CliContext): void {
  const { api } = ctx;
  vm.command('start')
    .description('start stopped VMs and wait for SSH')
    .argument('<names...>')
    .action(async (names: string[]) => {
      await forEachTarget(names, (name) => api('vm.start', { name }, { progress: names.length === 1 }), (n, v) => `${n}: ${v.state}`);
    });

  vm.command('stop')
    .description('stop VMs gracefully: sync and poweroff in the guest, then ACPI power-down, then kill')
    .argument('<names...>')
    .option('-t, --timeout <seconds>', 'seconds before the hypervisor is killed', '30')
    .action(async (names: string[], o: { timeout: string }) => {
      const timeoutMs = Number(o.timeout) * 1000;
      await forEachTarget(names, (name) => api('vm.stop', { name, timeoutMs }, { progress: names.length === 1 }), (n, v) => `${n}: ${v.state}`);
    });

  vm.command('restart')
    .description('stop then start VMs')
    .argument('<names...>')
    .option('-t, --timeout <seconds>', 'seconds before the hypervisor is killed on stop', '30')
    .action(async (names: string[], o: { timeout: string }) => {
      const timeoutMs = Number(o.timeout) * 1000;
      await forEachTarget(names, (name) => api('vm.restart', { name, timeoutMs }, { progress: names.length === 1 }), (n, v) => `${n}: ${v.state}`);
    });

  vm.command('kill')
    .description('send a signal to the hypervisor process (default SIGKILL)')
    .argument('<names...>')
    .option('-s, --signal <signal>', 'signal name', 'SIGKILL')
    .action(async (names: string[], o: { signal: string }) => {
      await forEachTarget(names, (name) => api('vm.kill', { name, signal: o.signal.toUpperCase() }, { progress: false }), (n, v) => `${n}: ${v.state}`);
    });

  vm.command('delete')
    .alias('rm')
    .description('delete VMs: stop them, remove their disks and forget their host keys')
    .argument('<names...>')
    .action(async (names: string[]) => {
      await forEachTarget(names, (name) => api('vm.delete', { name }, { progress: false }), (n) => `${n}: deleted`);
    });

  vm.command('prune')
    .description('delete every VM that is not running (asks first unless -f)')
    .option('-f, --force', 'do not ask for confirmation')
    .action(async (o: { force?: boolean }) => {
      if (!o.force) {
        const names = (await api('vm.list', {}, { progress: false })).vms.filter((v) => v.state !== 'running').map((v) => v.name);
        if (names.length === 0) return void console.log('nothing to prune');
        console.log(`would delete: ${names.join(', ')}`);
        if (!canAsk()) throw new BangerError('bad_request', 'vm prune asks before deleting, and stdin is not a terminal: run `banger vm prune -f` to delete them');
        if (!(await confirm(`delete ${names.length} VM${names.length === 1 ? '' : 's'}?`))) return void console.log('nothing deleted');
        // Exactly the VMs shown: one started or created since the question is not touched.
        return forEachTarget(names, (name) => api('vm.delete', { name }, { progress: false }), (n) => `${n}: deleted`);
      }
      const r = await api('vm.prune', {}, { progress: false });
      console.log(r.deleted.length ? `deleted: ${r.deleted.join(', ')}` : 'nothing to prune');
    });

  vm.command('set')
    .description('change stopped VMs: vcpu, memory, disk size (grow only), NAT')
    .argument('<names...>')
    .option('--vcpu <n>', 'virtual CPUs', Number)
    .option('--memory <mib>', 'memory in MiB', Number)
    .option('--disk-size <size>', 'grow the disk, e.g. 16G')
    .addOption(new Option('--nat', 'enable NAT (bridge mode)'))
    .addOption(new Option('--no-nat', 'disable NAT (bridge mode)'))
    .addHelpText('after', '\nExamples:\n  banger vm set web --memory 2048\n  banger vm set web db --vcpu 2        # several VMs at once')
    .action(async (names: string[], o: { vcpu?: number; memory?: number; diskSize?: string; nat?: boolean }) => {
      checkSizeFlag('--disk-size', o.diskSize);
      await forEachTarget(
        names,
        (name) => api('vm.set', { name, vcpu: o.vcpu, memoryMib: o.memory, diskSize: o.diskSize, nat: o.nat }, { progress: false }),
        (_n, v) => `${v.name}: vcpu ${v.vcpu}, memory ${v.memoryMib} MiB, disk ${v.diskSizeBytes} bytes`,
      );
    });
}

export const readyLine = (ms: number) => `ready in ${formatElapsed(ms)}`;
