/** vm create and vm run: create (and boot) a VM; run a command or a shell in it. */
import { Command, Option } from 'commander';
import { NetworkMode } from '../../api/enums.js';
import { checkSizeFlag } from '../../api/names.js';
import type { CliContext } from '../context.js';
import { execInVm, sshToVm } from '../guest-io.js';
import { readyLine } from './vm-lifecycle.js';
import { changedFilesNotice, checkPrepareFlags, prepareWorkspace, withPrepareFlags, type PrepareFlags } from './workspace.js';

interface CreateFlags {
  name?: string;
  image?: string;
  vcpu?: number;
  memory?: number;
  diskSize?: string;
  network?: NetworkMode;
  egress: boolean;
  nat?: boolean;
  hostAccess?: boolean;
  cold?: boolean;
}

function withCreateFlags(c: Command): Command {
  return c
    .option('--name <name>', 'VM name (default: generated)')
    .option('--image <name>', 'image (default: debian-bookworm, built on first use)')
    .option('--vcpu <n>', 'virtual CPUs', Number)
    .option('--memory <mib>', 'memory in MiB', Number)
    .option('--disk-size <size>', 'disk size, e.g. 8G')
    .addOption(new Option('--network <mode>', 'network mode (default: user; bridge + NAT where the hypervisor is Firecracker)').choices(NetworkMode.options))
    .option('--no-egress', 'block outbound traffic from the guest')
    .option('--nat', 'NAT outbound traffic (bridge mode)')
    .option('--host-access', "let the guest reach services on the host's 127.0.0.1 through 10.0.2.2 (user mode; blocked by default)")
    .option('--cold', "boot from scratch instead of restoring the image's warm snapshot (made by the first VM of each image)");
}

function createParams(o: CreateFlags, start: boolean) {
  checkSizeFlag('--disk-size', o.diskSize);
  return {
    name: o.name,
    image: o.image,
    vcpu: o.vcpu,
    memoryMib: o.memory,
    diskSize: o.diskSize,
    start,
    network: o.network,
    egress: o.egress,
    nat: o.nat,
    hostAccess: o.hostAccess ?? false,
    cold: o.cold ?? false,
  };
}

/** The image's default command (Entrypoint + Cmd), or null when it names none. */
async function imageCommand(ctx: CliContext, image: string): Promise<string[] | null> {
  const rt = (await ctx.api('image.show', { name: image }, { progress: false })).runtime;
  const argv = rt ? [...rt.entrypoint, ...rt.cmd] : [];
  return argv.length > 0 ? argv : null;
}

export function createCommands(vm: Command, ctx: CliContext): void {
  withCreateFlags(vm.command('create'))
    .description('create a VM (and start it unless --no-start)')
    .option('--no-start', 'only create the VM and its disk')
    .addHelpText('after', '\nExamples:\n  banger vm create --name web\n  banger vm create --name big --vcpu 2 --memory 2048 --disk-size 16G --no-start')
    .action(async (o: CreateFlags & { start: boolean }) => {
      const v = await ctx.api('vm.create', createParams(o, o.start), { doneLine: o.start ? readyLine : undefined });
      console.log(`${v.name}: ${v.state}${v.ssh ? ` (ssh ${v.ssh.host}:${v.ssh.port})` : ''}`);
    });

  withPrepareFlags(withCreateFlags(vm.command('run')))
    .description('create and start a VM, copy a repo into it if given, then run a command in it (its exit code becomes banger\'s) or open a shell')
    .argument('[path]', 'a git repo to copy into the VM first (as `vm workspace prepare`); commands then run in it')
    .option('--rm', 'delete the VM afterwards (also on Ctrl-C)')
    .option('-d, --detach', 'start it and return without running anything')
    .addHelpText('after', '\nExamples:\n  banger vm run -- uname -a\n  banger vm run --rm -- make test\n  banger vm run ./repo --rm -- make test   # the repo\'s files, then the command in them\n  banger vm run --name dev          # interactive shell; the VM keeps running\n  banger vm run --rm --image app    # an image with an Entrypoint/Cmd runs it, as `docker run app`')
    .action(async (path: string | undefined, o: CreateFlags & PrepareFlags & { rm?: boolean; detach?: boolean }) => {
      const cmd = ctx.guest;
      if (path !== undefined) await checkPrepareFlags(ctx, path, o); // before booting anything
      const v = await ctx.api('vm.create', createParams(o, true), { doneLine: readyLine });
      if (o.detach) {
        if (path !== undefined) await prepareWorkspace(ctx, v.name, path, o);
        return void console.log(`${v.name}: running (ssh ${v.ssh?.host}:${v.ssh?.port}); \`banger vm ssh ${v.name}\``);
      }
      let removing = false;
      const cleanup = async () => {
        if (removing || !o.rm) return;
        removing = true;
        if (path !== undefined) {
          const notice = await changedFilesNotice(ctx, v.name).catch(() => null);
          if (notice) console.error(notice);
        }
        await ctx.api('vm.delete', { name: v.name }, { progress: false }).catch((e) => console.error(`banger: could not delete ${v.name}: ${e.message}`));
      };
      const onSignal = () => void cleanup().finally(() => process.exit(130));
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      if (path !== undefined) {
        try {
          await prepareWorkspace(ctx, v.name, path, o);
        } catch (err) {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          path = undefined; // no workspace to report on
          await cleanup();
          throw err;
        }
      }
      // No command: the image's Entrypoint + Cmd when it has them (OCI images, as `docker run IMAGE`), else a shell.
      const runCmd = cmd && cmd.length > 0 ? cmd : path === undefined ? await imageCommand(ctx, v.image) : null;
      let code: number;
      try {
        code = runCmd ? await execInVm(ctx, v.name, runCmd) : await sshToVm(ctx, v.name, null);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      if (o.rm) await cleanup();
      else if (!runCmd) console.error(`${v.name} is still running; stop it with \`banger vm stop ${v.name}\` or remove it with \`banger vm delete ${v.name}\``);
      process.exitCode = code;
    });
}
