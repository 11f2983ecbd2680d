/** image build/import/export/pull/list/show/delete. */
import { Command, Option } from 'commander';
import { BangerError } from '../../api/errors.js';
import { ImageRuntimeConfig } from '../../api/image.js';
import { resolve } from 'node:path';
import { formatBytes } from '../../api/names.js';
import type { CliContext } from '../context.js';
import { formatElapsed } from '../progress.js';
import { age, table } from '../table.js';
import { forEachTarget } from '../targets.js';

const doneLine = (ms: number) => `done in ${formatElapsed(ms)}`;

function parseRuntimeJson(text: string): ImageRuntimeConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BangerError('bad_request', '--runtime-json is not valid JSON');
  }
  const r = ImageRuntimeConfig.safeParse(json);
  if (!r.success) throw new BangerError('bad_request', `--runtime-json: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

export function imageCommands(program: Command, ctx: CliContext): void {
  const { api } = ctx;
  const i = program.command('image').description('guest root file systems');
  i.command('build')
    .description('build the default Debian image locally with mmdebstrap, from the Debian archive (root not needed)')
    .option('--name <name>', 'image name', 'debian-bookworm')
    .option('--include <pkgs>', 'extra packages, comma-separated')
    .option('--size <size>', 'file system size', '4G')
    .addHelpText('after', '\nWithout root, the build runs in a user namespace: it needs uidmap, fakeroot and a subordinate\nid range for you (`banger doctor` checks; ./scripts/install.sh sets them up).\n\nExamples:\n  banger image build\n  banger image build --name py --include python3,python3-venv')
    .action(async (o: { name: string; include?: string; size: string }) => {
      const include = o.include ? o.include.split(',').map((s) => s.trim()).filter(Boolean) : [];
      const m = await api('image.build', { name: o.name, include, size: o.size }, { doneLine });
      console.log(`${m.name}: ${m.packages.length} packages, ${formatBytes(m.sizeBytes)} (${m.sha256.slice(0, 12)})`);
    });
  i.command('import')
    .description('import a `docker export`-style root file system tar (- for stdin)')
    .argument('<name>')
    .requiredOption('--rootfs-tar <file>', 'tar file, or - for stdin')
    .option('--size <size>', 'file system size')
    .option('--force', 'replace an image of the same name (refused while a VM or snapshot uses it)')
    // Hidden: how OCI imports record Env/WorkingDir/User/Entrypoint/Cmd, for tests and scripts.
    .addOption(new Option('--runtime-json <json>', 'runtime config (env, workingDir, user, entrypoint, cmd) as JSON').hideHelp())
    .addHelpText('after', '\nThe tar must be a regular file (or - for stdin), at most image_import_max_size (config.toml, default 64G).\nA root without /sbin/init or sshd boots with banger\'s own init and sshd; its files are left as they are.')
    .action(async (name: string, o: { rootfsTar: string; size?: string; force?: boolean; runtimeJson?: string }) => {
      const fromStdin = o.rootfsTar === '-';
      const runtime = o.runtimeJson === undefined ? undefined : parseRuntimeJson(o.runtimeJson);
      const m = await api(
        'image.import',
        { name, rootfsTar: fromStdin ? '-' : resolve(o.rootfsTar), size: o.size, force: o.force ?? false, runtime },
        { doneLine, stdin: fromStdin ? process.stdin : undefined },
      );
      console.log(`${m.name}: imported (${m.sha256.slice(0, 12)})`);
    });
  i.command('export')
    .description('write an image bundle (rootfs.ext4 + manifest.json, zstd)')
    .argument('<name>')
    .requiredOption('-o, --output <file>', 'bundle path, e.g. NAME.tar.zst')
    .action(async (name: string, o: { output: string }) => {
      const r = await api('image.export', { name, output: resolve(o.output) }, { doneLine });
      console.log(`${r.output}: ${formatBytes(r.sizeBytes)} sha256 ${r.sha256}`);
    });
  i.command('pull')
    .description('fetch a bundle from the catalog (or a URL), verify its sha256, register it')
    .argument('<nameOrUrl>')
    .action(async (nameOrUrl: string) => {
      const m = await api('image.pull', { nameOrUrl }, { doneLine });
      console.log(`${m.name}: pulled (${m.sha256.slice(0, 12)})`);
    });
  i.command('list')
    .alias('ls')
    .description('list images')
    .option('--json', 'print the API result as JSON')
    .action(async (o: { json?: boolean }) => {
      const r = await api('image.list', {}, { progress: false });
      if (o.json) return void console.log(JSON.stringify(r, null, 2));
      console.log(table(['NAME', 'DISTRO', 'KERNEL', 'SIZE', 'SHA256', 'BUILT'], r.images.map((m) => [m.name, m.distro, m.kernelRef ?? '-', formatBytes(m.sizeBytes), m.sha256.slice(0, 12), age(m.builtAt)])));
    });
  i.command('show')
    .description('show an image manifest (JSON)')
    .argument('<name>')
    .action(async (name: string) => console.log(JSON.stringify(await api('image.show', { name }, { progress: false }), null, 2)));
  i.command('delete')
    .alias('rm')
    .description('delete images (refused while a VM uses them)')
    .argument('<names...>')
    .action(async (names: string[]) => {
      await forEachTarget(names, (name) => api('image.delete', { name }, { progress: false }), (n) => `${n}: deleted`);
    });
}
