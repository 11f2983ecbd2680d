/** image build/import/export/pull/list/show/delete (build, import and pull also take OCI sources). */
import { Command, Option } from 'commander';
import { resolve } from 'node:path';
import { BangerError } from '../../api/errors.js';
import { DEFAULT_IMAGE_NAME, DEFAULT_IMAGE_SIZE, ImageVariant } from '../../api/defaults.js';
import type { ImageManifest, ImageRuntimeConfig } from '../../api/image.js';
import { formatBytes } from '../../api/names.js';
import type { CliContext } from '../context.js';
import { formatElapsed } from '../progress.js';
import { age, table } from '../table.js';
import { forEachTarget } from '../targets.js';

const doneLine = (ms: number) => `done in ${formatElapsed(ms)}`;

async function parseRuntimeJson(text: string): Promise<ImageRuntimeConfig> {
  const { ImageRuntimeConfig } = await import('../../api/image.js'); // the schemas load when used, not at start-up
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
  const collect = (v: string, prev: string[]) => [...prev, v];
  const show = (m: ImageManifest, json: boolean | undefined, verb: string) =>
    console.log(json ? JSON.stringify(m, null, 2) : `${m.name}: ${verb} (${m.sha256.slice(0, 12)})${m.runtime ? `, ${m.distro}` : ''}`);
  i.command('build')
    .description('build the default Debian image locally with mmdebstrap (root not needed), or an image from a Dockerfile with buildah')
    .option('--name <name>', 'image name (default debian-bookworm; required with --dockerfile)')
    .option('--include <pkgs>', 'extra packages, comma-separated (Debian build)')
    .option('--size <size>', 'file system size (default 4G; with --dockerfile, 4G or twice the content)')
    .addOption(new Option('--variant <variant>', 'Debian build. default: Docker, python3, node, mise and the usual tools; minimal: systemd, sshd, git, build-essential').choices(ImageVariant.options).default('default'))
    .option('--dockerfile <path>', 'build this Dockerfile with buildah instead of the Debian image')
    .option('--context <dir>', 'build context for --dockerfile (default: its directory)')
    .option('--build-arg <KEY=VALUE>', 'build argument for --dockerfile (repeatable)', collect, [])
    .option('--target <stage>', 'the stage of a multi-stage Dockerfile to build')
    .option('--insecure', 'plain HTTP to the registries of FROM lines (a local registry you trust)')
    .option('--force', 'replace an image of the same name (--dockerfile)')
    .option('--json', 'print the image manifest as JSON')
    .addHelpText(
      'after',
      '\nWithout root, the Debian build runs in a user namespace: it needs uidmap, fakeroot and a subordinate\nid range for you (`banger doctor` checks; ./scripts/install.sh sets them up). A Dockerfile build\nruns buildah (chroot isolation); its output streams as progress, and the image keeps the\nDockerfile\'s ENV, WORKDIR, USER, ENTRYPOINT and CMD.\n\nExamples:\n  banger image build\n  banger image build --variant minimal --name small\n  banger image build --name py --include python3,python3-venv\n  banger image build --name app --dockerfile ./Dockerfile --build-arg VERSION=2 --target runtime',
    )
    .action(async (o: { name?: string; include?: string; size?: string; variant: ImageVariant; dockerfile?: string; context?: string; buildArg: string[]; target?: string; insecure?: boolean; force?: boolean; json?: boolean }) => {
      if (o.dockerfile !== undefined) {
        if (!o.name) throw new BangerError('bad_request', '--dockerfile needs --name NAME for the image');
        const m = await api('image.buildDockerfile', { name: o.name, dockerfile: resolve(o.dockerfile), context: o.context === undefined ? undefined : resolve(o.context), buildArgs: o.buildArg, target: o.target, insecure: o.insecure ?? false, force: o.force ?? false, size: o.size }, { doneLine });
        return show(m, o.json, 'built');
      }
      const include = o.include ? o.include.split(',').map((s) => s.trim()).filter(Boolean) : [];
      const m = await api('image.build', { name: o.name ?? DEFAULT_IMAGE_NAME, include, size: o.size ?? DEFAULT_IMAGE_SIZE, variant: o.variant }, { doneLine });
      if (o.json) return void console.log(JSON.stringify(m, null, 2));
      console.log(`${m.name}: ${m.packages.length} packages, ${formatBytes(m.sizeBytes)} (${m.sha256.slice(0, 12)})`);
    });
  i.command('import')
    .description('import a root file system tar (`docker export`), a `docker save` archive, or an OCI image layout')
    .argument('<name>')
    .option('--rootfs-tar <file>', 'tar file, or - for stdin')
    .option('--docker-archive <file>', 'a `docker save` / `podman save` archive')
    .option('--oci-layout <dir>', 'an OCI image layout directory (DIR:TAG picks one of several)')
    .option('--size <size>', 'file system size')
    .option('--force', 'replace an image of the same name (refused while a VM or snapshot uses it)')
    .option('--json', 'print the image manifest as JSON')
    // Hidden: how OCI imports record Env/WorkingDir/User/Entrypoint/Cmd, for tests and scripts.
    .addOption(new Option('--runtime-json <json>', 'runtime config (env, workingDir, user, entrypoint, cmd) as JSON').hideHelp())
    .addHelpText(
      'after',
      '\nGive exactly one source. A rootfs tar must be a regular file (or - for stdin), at most image_import_max_size\n(config.toml, default 64G). A root without /sbin/init or sshd boots with banger\'s own init and sshd; its\nfiles are left as they are. Archives and layouts keep the image\'s Env, WorkingDir, User, Entrypoint and Cmd.\n\nExamples:\n  banger image import web --rootfs-tar rootfs.tar\n  docker save myapp:1 -o myapp.tar && banger image import myapp --docker-archive myapp.tar\n  banger image import tool --oci-layout ./layout:v2',
    )
    .action(async (name: string, o: { rootfsTar?: string; dockerArchive?: string; ociLayout?: string; size?: string; force?: boolean; json?: boolean; runtimeJson?: string }) => {
      const given = [o.rootfsTar, o.dockerArchive, o.ociLayout].filter((x) => x !== undefined).length;
      if (given !== 1) throw new BangerError('bad_request', 'give exactly one of --rootfs-tar, --docker-archive, --oci-layout');
      const force = o.force ?? false;
      if (o.rootfsTar === undefined) {
        const m = await api('image.importOci', { name, dockerArchive: o.dockerArchive && resolve(o.dockerArchive), ociLayout: o.ociLayout && resolve(o.ociLayout), size: o.size, force }, { doneLine });
        return show(m, o.json, 'imported');
      }
      const fromStdin = o.rootfsTar === '-';
      const runtime = o.runtimeJson === undefined ? undefined : await parseRuntimeJson(o.runtimeJson);
      const m = await api('image.import', { name, rootfsTar: fromStdin ? '-' : resolve(o.rootfsTar), size: o.size, force, runtime }, { doneLine, stdin: fromStdin ? process.stdin : undefined });
      show(m, o.json, 'imported');
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
    .description('pull an OCI image from a registry, or a banger bundle from the catalog (or a URL)')
    .argument('<ref>', 'OCI reference (registry/repo:tag, repo@sha256:…), catalog name, or bundle URL')
    .option('--name <name>', 'image name for an OCI pull (default: the repository name, plus the tag unless latest)')
    .option('--oci', 'treat <ref> as an OCI reference even when it is a plain name (busybox)')
    .option('--insecure', 'plain HTTP to the registry (a local registry you trust)')
    .option('--size <size>', 'file system size (OCI pull)')
    .option('--force', 'replace an image of the same name (OCI pull)')
    .option('--json', 'print the image manifest as JSON')
    .addHelpText(
      'after',
      '\nAn OCI pull uses skopeo (credentials from ~/.docker/config.json), takes the linux/amd64 image,\nverifies every blob, applies the layers with the same path-safety rules as `image import`, and\nkeeps the image\'s Env, WorkingDir, User, Entrypoint and Cmd. Layers are cached for later pulls.\n\nExamples:\n  banger image pull docker.io/library/python:3.12-slim\n  banger image pull --oci busybox --name bb\n  banger image pull --insecure localhost:5000/team/app:dev\n  banger image pull debian-bookworm            (catalog bundle)',
    )
    .action(async (ref: string, o: { name?: string; oci?: boolean; insecure?: boolean; size?: string; force?: boolean; json?: boolean }) => {
      const { looksLikeOciReference } = await import('../../api/image.js');
      if (o.oci || looksLikeOciReference(ref)) {
        const m = await api('image.pullOci', { ref, name: o.name, insecure: o.insecure ?? false, size: o.size, force: o.force ?? false }, { doneLine });
        return show(m, o.json, 'pulled');
      }
      const m = await api('image.pull', { nameOrUrl: ref }, { doneLine });
      show(m, o.json, 'pulled');
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
