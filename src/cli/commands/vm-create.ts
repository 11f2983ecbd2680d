/** vm create and vm run: create (and boot) a VM; run a command or a shell in it. */
import { Command, Option } from 'commander';
import { NetworkMode } from '../../api/enums.js';
import { BangerError } from '../../api/errors.js';
import { DEFAULT_IMAGE_NAME } from '../../api/defaults.js';
import { checkSizeFlag } from '../../api/names.js';
import { planBootstrap, type BootstrapPlan } from '../bootstrap.js';
import { describeBootstrap, readMiseConfigs, runBootstrap } from '../bootstrap-io.js';
import type { CliContext } from '../context.js';
import { execInVm, sshToVm } from '../guest-io.js';
import { readyLine } from './vm-lifecycle.js';
import { changedFilesNotice, checkPrepareFlags, prepareWorkspace, printPlan, withPrepareFlags, type PrepareFlags } from './workspace.js';

interface RunFlags {
  rm?: boolean;
  detach?: boolean;
  dryRun?: boolean;
  bootstrap: boolean;
}

/** The refusals of `vm run` that need nothing but the flags (before the daemon is asked anything). */
export function checkRunFlags(o: RunFlags, cmd: string[] | null): void {
  const hasCmd = cmd !== null && cmd.length > 0;
  if (o.detach && o.rm) throw new BangerError('bad_request', '-d/--detach keeps the VM running, --rm deletes it when the command ends: use one of them');
  if (o.detach && hasCmd) throw new BangerError('bad_request', '-d/--detach runs nothing: drop the command after --, or drop -d to run it (`banger vm exec NAME -- CMD` runs one in a detached VM later)');
}

/** `vm run --dry-run`: what would be created, copied and bootstrapped; no VM. */
function printRunPlan(o: CreateFlags, cmd: string[] | null, detach: boolean, rm: boolean): void {
  const dflt = (v: unknown, unit = '') => (v === undefined ? 'default' : `${v}${unit}`);
  console.log(`image: ${o.image ?? `${DEFAULT_IMAGE_NAME} (default)`}`);
  console.log(`vcpu: ${dflt(o.vcpu)}, memory: ${dflt(o.memory, ' MiB')}, disk: ${dflt(o.diskSize)}`);
  console.log(`network: ${o.network ?? 'default'}, egress: ${o.egress ? 'on' : 'off'}${o.hostAccess ? ', host access' : ''}`);
  console.log(`then: ${detach ? 'leave it running (-d)' : cmd && cmd.length ? `run ${JSON.stringify(cmd)}` : 'open a shell'}${rm ? ', then delete it (--rm)' : ''}`);
}

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
    .option('-d, --detach', 'create, prepare and bootstrap, then return with the VM running (no shell, no command)')
    .option('--dry-run', 'print the plan (image, sizes, network, the files copied, the bootstrap) and create nothing')
    .option('--no-bootstrap', "do not run `mise trust` + `mise install` for the repo's .mise.toml / .tool-versions")
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  banger vm run -- uname -a',
        '  banger vm run --rm -- make test',
        "  banger vm run ./repo --rm -- make test   # the repo's files, then the command in them",
        '  banger vm run ./repo -d --name dev       # prepared and bootstrapped; `banger vm exec dev -- make`',
        '  banger vm run ./repo --dry-run',
        '  banger vm run --name dev          # interactive shell; the VM keeps running',
        '  banger vm run --rm --image app    # an image with an Entrypoint/Cmd runs it, as `docker run app`',
        '',
        "A repo with a mise config (.mise.toml, .tool-versions, ...) is bootstrapped: `mise install` runs in",
        'the guest before the command (in the background for a shell); `vm exec` then runs inside `mise exec`.',
      ].join('\n'),
    )
    .action(async (path: string | undefined, o: CreateFlags & PrepareFlags & RunFlags) => {
      const cmd = ctx.guest;
      checkRunFlags(o, cmd);
      let boot: BootstrapPlan = { kind: 'none' };
      if (path !== undefined) {
        const plan = await checkPrepareFlags(ctx, path, o, o.dryRun ?? false); // before booting anything
        const interactive = !o.detach && !(cmd && cmd.length > 0);
        boot = planBootstrap({ configs: await readMiseConfigs(plan.root), noBootstrap: !o.bootstrap, egress: o.egress, interactive });
        if (o.dryRun) {
          printRunPlan(o, cmd, o.detach ?? false, o.rm ?? false);
          console.log(`workspace: ${o.guestPath}`);
          printPlan(plan);
          return void console.log(`bootstrap: ${describeBootstrap(boot, o.guestPath)}`);
        }
      } else if (o.dryRun) return printRunPlan(o, cmd, o.detach ?? false, o.rm ?? false);
      const v = await ctx.api('vm.create', createParams(o, true), { doneLine: readyLine });
      if (o.detach) {
        if (path !== undefined) {
          await prepareWorkspace(ctx, v.name, path, o);
          await runBootstrap(ctx, v.name, boot, o.guestPath);
        }
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
          await runBootstrap(ctx, v.name, boot, o.guestPath);
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
