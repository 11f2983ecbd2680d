/**
 * `image build --dockerfile PATH [--context DIR]`: Debian's buildah builds the Dockerfile (chroot
 * isolation, so RUN needs no OCI runtime; rootless works in buildah's own user namespace), its output
 * streamed as progress, then `buildah push` writes an OCI layout that pull.ts turns into an image like
 * any other. buildah keeps its own storage under the cache (paths.buildahDir, vfs driver, which works
 * on any file system), so base images stay cached between builds and the user's containers are left
 * alone; the built image itself is removed from that storage once pushed.
 */
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { BangerError } from '../../../api/errors.js';
import { noProgress } from '../../../api/progress.js';
import { run } from '../../../host/exec.js';
import { createStaging } from '../../staging.js';
import { runLines } from '../../runlines.js';
import type { PublishedImage } from '../store.js';
import { dockerAuthFile, publishLayout, type OciSourceOptions } from './pull.js';

export interface DockerfileBuild {
  dockerfile: string;
  /** The build context; default: the Dockerfile's directory. */
  context?: string;
  /** KEY=VALUE (or KEY, taken from the builder's environment). */
  buildArgs?: string[];
  /** The stage to build (`FROM … AS NAME`). */
  target?: string;
  /** Plain HTTP / unverified TLS to the registries of FROM lines. */
  insecure?: boolean;
  authFile?: string;
}

const BUILD_ARG = /^[A-Za-z_][A-Za-z0-9_]*(=[\s\S]*)?$/;
const TARGET = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** buildah's global flags: banger's own storage, vfs. */
export function buildahGlobal(buildahDir: string): string[] {
  return ['buildah', '--root', join(buildahDir, 'storage'), '--runroot', join(buildahDir, 'run'), '--storage-driver', 'vfs'];
}

/** The `buildah build` argv; values are checked here, paths must be absolute. */
export function buildahBuildArgv(buildahDir: string, b: Required<Pick<DockerfileBuild, 'dockerfile' | 'context'>> & DockerfileBuild, tag: string): string[] {
  for (const a of b.buildArgs ?? []) {
    if (!BUILD_ARG.test(a)) throw new BangerError('bad_request', `--build-arg ${JSON.stringify(a)}: expected KEY=VALUE with KEY of letters, digits and "_"`);
  }
  if (b.target !== undefined && !TARGET.test(b.target)) throw new BangerError('bad_request', `--target ${JSON.stringify(b.target)}: not a stage name`);
  return [
    ...buildahGlobal(buildahDir),
    'build',
    '--isolation',
    'chroot',
    '--file',
    b.dockerfile,
    '--tag',
    tag,
    ...(b.buildArgs ?? []).flatMap((a) => ['--build-arg', a]),
    ...(b.target !== undefined ? ['--target', b.target] : []),
    ...(b.insecure ? ['--tls-verify=false'] : []),
    ...(b.authFile ? ['--authfile', b.authFile] : []),
    '--',
    b.context,
  ];
}

/** Builds the Dockerfile and imports the result (source 'build'). */
export async function buildDockerfileImage(opts: OciSourceOptions & DockerfileBuild): Promise<PublishedImage> {
  const progress = opts.progress ?? noProgress;
  const dockerfile = resolve(opts.dockerfile);
  const context = resolve(opts.context ?? dirname(dockerfile));
  if (!(await stat(dockerfile).then((s) => s.isFile(), () => false))) throw new BangerError('not_found', `--dockerfile ${opts.dockerfile}: no such file`);
  if (!(await stat(context).then((s) => s.isDirectory(), () => false))) throw new BangerError('not_found', `--context ${opts.context ?? context}: no such directory`);
  const authFile = opts.authFile ?? (await dockerAuthFile(opts.paths));
  const tag = `localhost/banger-build-${randomUUID().slice(0, 12)}:latest`;
  const argv = buildahBuildArgv(opts.paths.buildahDir, { ...opts, dockerfile, context, authFile }, tag);
  const staging = await createStaging(opts.paths, 'build-oci');
  try {
    progress('build', `buildah build ${dockerfile}`);
    await runLines(argv, (line) => line.trim() && progress('build', line), { label: 'buildah build', signal: opts.signal }).catch((err: unknown) => {
      if (err instanceof BangerError && err.code === 'internal') throw new BangerError('bad_request', `the Dockerfile build failed: ${err.message.replace(/^buildah build failed with /, '')}`, { details: err.details });
      throw err;
    });
    const dir = join(staging.dir, 'layout');
    try {
      await run([...buildahGlobal(opts.paths.buildahDir), 'push', tag, `oci:${dir}:image`]);
    } finally {
      await run([...buildahGlobal(opts.paths.buildahDir), 'rmi', tag], { check: false });
    }
    return await publishLayout({ dir, blobDirs: [join(dir, 'blobs')], what: `the build of ${dockerfile}` }, { ...opts, source: 'build', refName: 'image' });
  } finally {
    await staging.remove();
  }
}
