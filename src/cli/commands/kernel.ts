/** kernel pull/list/show/rm/import. */
import { Command } from 'commander';
import { resolve } from 'node:path';
import type { CliContext } from '../context.js';
import { table, age } from '../table.js';
import { forEachTarget } from '../targets.js';
import { formatElapsed } from '../progress.js';

export function kernelCommands(program: Command, ctx: CliContext): void {
  const { api } = ctx;
  const k = program.command('kernel').description('guest kernels (Debian cloud kernel by default)');
  k.command('pull')
    .description('fetch a Debian kernel package, extract vmlinux and build the initramfs')
    .argument('[name]', 'kernel source name', 'debian-cloud')
    .action(async (name: string) => {
      const m = await api('kernel.pull', { name }, { doneLine: (ms) => `done in ${formatElapsed(ms)}` });
      console.log(`${m.name}: ${m.release} (${m.sha256.slice(0, 12)})`);
    });
  k.command('list')
    .alias('ls')
    .description('list kernels')
    .option('--json', 'print the API result as JSON')
    .option('--available', 'also list kernels `kernel pull` can fetch')
    .action(async (o: { json?: boolean; available?: boolean }) => {
      const r = await api('kernel.list', { available: o.available }, { progress: false });
      if (o.json) return void console.log(JSON.stringify(r, null, 2));
      console.log(table(['NAME', 'RELEASE', 'SHA256', 'IMPORTED'], r.kernels.map((m) => [m.name, m.release, m.sha256.slice(0, 12), age(m.importedAt)])));
      if (r.available) console.log(`\navailable:\n${table(['NAME', 'PACKAGE', 'VERSION'], r.available.map((a) => [a.name, a.package, a.version]))}`);
    });
  k.command('show')
    .description('show a kernel manifest (JSON)')
    .argument('<name>')
    .action(async (name: string) => console.log(JSON.stringify(await api('kernel.show', { name }, { progress: false }), null, 2)));
  k.command('rm')
    .alias('delete')
    .description('remove kernels (refused while an image or VM uses them)')
    .argument('<names...>')
    .action(async (names: string[]) => {
      await forEachTarget(names, (name) => api('kernel.delete', { name }, { progress: false }), (n) => `${n}: removed`);
    });
  k.command('import')
    .description('register a kernel you built (vmlinux or bzImage; banger builds the initramfs unless --initrd)')
    .argument('<name>')
    .option('--vmlinuz <file>', 'bzImage')
    .option('--vmlinux <file>', 'uncompressed ELF vmlinux')
    .option('--initrd <file>', 'an initramfs implementing banger\'s boot contract')
    .option('--modules <dir>', 'a /lib/modules/RELEASE tree')
    .action(async (name: string, o: { vmlinuz?: string; vmlinux?: string; initrd?: string; modules?: string }) => {
      const abs = (p?: string) => (p ? resolve(p) : undefined);
      const m = await api('kernel.import', { name, vmlinuz: abs(o.vmlinuz), vmlinux: abs(o.vmlinux), initrd: abs(o.initrd), modules: abs(o.modules) });
      console.log(`${m.name}: ${m.release} (${m.sha256.slice(0, 12)})`);
    });
}
