/** vm list/ps, vm show, vm stats, vm logs. */
import { Command } from 'commander';
import { createReadStream, statSync, watch } from 'node:fs';
import { formatBytes } from '../../api/names.js';
import type { Vm } from '../../api/vm.js';
import type { CliContext } from '../context.js';
import { controlStripStream } from '../controlstrip.js';
import { age, table } from '../table.js';

const sshCell = (v: Vm) => (v.ssh ? `${v.ssh.host}:${v.ssh.port}` : '-');

export function vmRows(vms: Vm[], now = Date.now()): string {
  return table(
    ['ID', 'NAME', 'STATE', 'IMAGE', 'SSH', 'VCPU', 'MEM', 'DISK', 'WORKSPACE', 'CREATED'],
    vms.map((v) => [
      v.id,
      v.name,
      v.state,
      v.image,
      sshCell(v),
      String(v.vcpu),
      `${v.memoryMib}M`,
      formatBytes(v.diskSizeBytes),
      v.workspace ? v.workspace.guestPath : '-',
      age(v.createdAt, now),
    ]),
  );
}

export function listCommands(vm: Command, ctx: CliContext): void {
  const { api } = ctx;
  vm.command('list')
    .alias('ps')
    .description('list VMs')
    .option('--json', 'print the API result as JSON')
    .action(async (o: { json?: boolean }) => {
      const { vms } = await api('vm.list', {}, { progress: false });
      console.log(o.json ? JSON.stringify(vms, null, 2) : vmRows(vms)); // --json: the list itself, as before
    });

  vm.command('show')
    .description('show one VM in full (JSON; lastActiveAt and autoStopAt say when auto_stop_stale_after stops it)')
    .argument('<name>')
    .action(async (name: string) => console.log(JSON.stringify(await api('vm.show', { name }, { progress: false }), null, 2)));

  vm.command('stats')
    .description('CPU, memory and disk use per VM')
    .option('--json', 'print the API result as JSON')
    .action(async (o: { json?: boolean }) => {
      const s = (await api('vm.stats', {}, { progress: false })).stats; // --json: the list itself, as before
      if (o.json) return void console.log(JSON.stringify(s, null, 2));
      const f = (n: number | null, fn: (n: number) => string) => (n === null ? '-' : fn(n));
      console.log(
        table(
          ['NAME', 'STATE', 'CPU', 'RSS', 'DISK USED', 'DISK SIZE'],
          s.map((x) => [x.name, x.state, f(x.cpuPercent, (n) => `${n.toFixed(1)}%`), f(x.rssBytes, formatBytes), f(x.diskUsedBytes, formatBytes), formatBytes(x.diskSizeBytes)]),
        ),
      );
    });

  vm.command('logs')
    .description("print a VM's serial console log (terminal escape sequences from the guest removed, unless --raw)")
    .argument('<name>')
    .option('-f, --follow', 'keep printing as the log grows')
    .option('--raw', "print the guest's bytes unchanged, escape sequences included")
    .action(async (name: string, o: { follow?: boolean; raw?: boolean }) => {
      const { path } = await api('vm.logs', { name }, { progress: false });
      // The guest writes this file: never hand its escape sequences to the terminal unasked (cli/controlstrip.ts).
      const out = o.raw ? process.stdout : controlStripStream();
      if (!o.raw) out.pipe(process.stdout);
      await new Promise<void>((resolve, reject) => {
        const s = createReadStream(path);
        s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? resolve() : reject(e)));
        s.on('end', resolve);
        s.pipe(out, { end: false });
      });
      if (!o.follow) return;
      let pos = statSync(path).size;
      watch(path, () => {
        const size = statSync(path).size;
        if (size > pos) createReadStream(path, { start: pos, end: size - 1 }).pipe(out, { end: false });
        pos = size;
      });
      await new Promise(() => {});
    });
}
