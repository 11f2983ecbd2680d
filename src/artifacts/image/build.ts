/**
 * `image build`: the default golden image, made on this host from Debian packages. mmdebstrap
 * bootstraps a root directory in staging, guestfiles.ts turns it into a banger guest, the kernel's
 * modules are copied in and indexed, and `mkfs.ext4 -d` makes the sparse ext4. Nothing is
 * registered until the finished directory is renamed into images/<sha256>/.
 */
import { lstat, mkdir, readdir, rm, symlink, unlink, writeFile, chmod } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BangerError } from '../../api/errors.js';
import { DEFAULT_IMAGE_NAME, DEFAULT_IMAGE_SIZE, ImageName, PackageName } from '../../api/image.js';
import { parseSize } from '../../api/names.js';
import { noProgress, type Progress } from '../../api/progress.js';
import { run, spawnProcess, which } from '../../host/exec.js';
import { silentLogger, type Logger } from '../../host/logger.js';
import type { Paths } from '../../store/paths.js';
import { harvestAptArchives, seedAptArchives } from './aptcache.js';
import { DEFAULT_PACKAGES, guestCustomisation, type GuestCustomisation } from './guestfiles.js';
import { resolveInRoot } from './rootpath.js';
import { parseDpkgQuery } from './rootfsinfo.js';
import { cleanStaleStaging, createStaging } from '../staging.js';
import { publishRootTree, type PublishedImage } from './store.js';
import { aptSourceLines, DEBIAN_ARCHIVE_KEYRING, DEFAULT_DEBIAN_SOURCE, type DebianSource } from '../apt/sources.js';

export { aptSourceLines, DEFAULT_DEBIAN_SOURCE, type DebianSource } from '../apt/sources.js';

export interface BuildImageOptions {
  paths: Paths;
  /** @default 'debian-bookworm' */
  name?: string;
  /** Packages added to DEFAULT_PACKAGES. */
  include?: readonly string[];
  /** Apparent size of the ext4. @default '4G' */
  size?: string;
  /** A /lib/modules/<release> tree of the kernel the image boots with (the kernel artifact's). */
  modulesDir?: string | null;
  /** Recorded in the manifest; required with `modulesDir`. */
  kernelRef?: string | null;
  source?: Partial<DebianSource>;
  progress?: Progress;
  log?: Logger;
}

/** mmdebstrap's argv (pure; run inside a private mount namespace so no mount outlives a crash). */
export function mmdebstrapArgv(root: string, packages: readonly string[], src: DebianSource): string[] {
  return [
    'unshare',
    '--mount',
    '--propagation',
    'private',
    'mmdebstrap',
    '--mode=root',
    '--variant=minbase',
    '--format=directory',
    `--include=${packages.join(',')}`,
    // The target already holds the seeded apt archive.
    '--skip=check/empty',
    // Keep every downloaded .deb so harvestAptArchives can cache it.
    '--skip=essential/unlink',
    '--skip=cleanup/apt/cache',
    '--aptopt=Acquire::Languages "none"',
    // The Debian archive's keys, also on hosts whose default keyring is another vendor's (Ubuntu).
    `--keyring=${DEBIAN_ARCHIVE_KEYRING}`,
    src.suite,
    root,
    ...aptSourceLines(src),
  ];
}

/** Default packages plus `include`, deduplicated, order kept. */
export function packageSet(include: readonly string[] = []): string[] {
  for (const p of include) {
    const r = PackageName.safeParse(p);
    if (!r.success) throw new BangerError('bad_request', `--include ${JSON.stringify(p)}: ${r.error.issues[0]?.message}`);
  }
  return [...new Set([...DEFAULT_PACKAGES, ...include])];
}

async function preflight(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new BangerError('unavailable', 'image build needs root (mmdebstrap and chroot); run the banger daemon as root or pull an image instead');
  }
  for (const [cmd, pkg] of [
    ['mmdebstrap', 'mmdebstrap'],
    ['mkfs.ext4', 'e2fsprogs'],
    ['unshare', 'util-linux'],
  ]) {
    if ((await which(cmd)) === null) throw new BangerError('unavailable', `image build needs ${cmd}; install it with \`apt-get install ${pkg}\``);
  }
}

/** Runs a command, handing each stderr line to `onLine`; keeps the tail for the error message. */
async function runStreaming(argv: string[], onLine: (line: string) => void, env?: NodeJS.ProcessEnv): Promise<void> {
  const proc = spawnProcess(argv, { stdio: ['ignore', 'pipe', 'pipe'], env });
  const tail: string[] = [];
  let partial = '';
  const take = (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      tail.push(l);
      if (tail.length > 15) tail.shift();
      onLine(l);
    }
  };
  proc.child.stderr!.on('data', take);
  proc.child.stdout!.on('data', take);
  const code = await proc.exit;
  if (partial) tail.push(partial);
  if (code !== 0) {
    throw new BangerError('internal', `${argv.includes('mmdebstrap') ? 'mmdebstrap' : argv[0]} failed with exit ${code}: ${tail.slice(-8).join('\n')}`, {
      details: { argv, code },
    });
  }
}

/** Applies guestfiles.ts to a root directory we built ourselves. */
export async function applyCustomisation(root: string, plan: GuestCustomisation): Promise<void> {
  for (const f of plan.files) {
    const p = join(root, f.path);
    await mkdir(dirname(p), { recursive: true });
    await rm(p, { force: true });
    await writeFile(p, f.content);
    await chmod(p, f.mode);
  }
  for (const l of plan.links) {
    const p = join(root, l.path);
    await mkdir(dirname(p), { recursive: true });
    await rm(p, { force: true });
    await symlink(l.target, p);
  }
  for (const r of plan.remove) await rm(join(root, r), { force: true });
  for (const { dir, pattern } of plan.removeMatching) {
    const names = await readdir(join(root, dir)).catch(() => [] as string[]);
    for (const n of names.filter((x) => pattern.test(x))) await unlink(join(root, dir, n));
  }
}

/** Copies a kernel's modules tree into the root and runs depmod for it inside the root. */
async function installModules(root: string, modulesDir: string): Promise<string> {
  const release = basename(modulesDir);
  // /lib is a symlink to usr/lib in merged-usr Debian: resolve it inside the root.
  const libDir = await resolveInRoot(root, 'lib');
  if (libDir === null) throw new BangerError('internal', `the bootstrapped root has no /lib`);
  const parent = join(libDir, 'modules');
  await mkdir(parent, { recursive: true });
  await rm(join(parent, release), { recursive: true, force: true });
  await run(['cp', '-a', '--no-preserve=ownership', modulesDir, join(parent, release)]);
  await run(['chroot', root, '/sbin/depmod', '-a', release]);
  const dep = await lstat(join(parent, release, 'modules.dep')).catch(() => null);
  if (!dep?.isFile()) throw new BangerError('internal', `depmod did not write modules.dep for ${release}`);
  return release;
}

/** Builds the image and publishes it into the store. Returns its directory and manifest. */
export async function buildImage(opts: BuildImageOptions): Promise<PublishedImage> {
  const progress = opts.progress ?? noProgress;
  const log = (opts.log ?? silentLogger).child({ op: 'image.build' });
  const name = ImageName.parse(opts.name ?? DEFAULT_IMAGE_NAME);
  const sizeText = opts.size ?? DEFAULT_IMAGE_SIZE;
  const sizeBytes = parseSize(sizeText);
  if (sizeBytes === null || sizeBytes < 64 * 1024 * 1024) {
    throw new BangerError('bad_request', `--size ${sizeText}: expected a size of at least 64M, like 4G`);
  }
  const packages = packageSet(opts.include);
  const modulesDir = opts.modulesDir ?? null;
  const kernelRef = opts.kernelRef ?? null;
  if ((modulesDir === null) !== (kernelRef === null)) {
    throw new BangerError('bad_request', 'modulesDir and kernelRef go together: the manifest names the kernel whose modules are in the image');
  }
  if (modulesDir !== null && !(await lstat(modulesDir).catch(() => null))?.isDirectory()) {
    throw new BangerError('bad_request', `kernel modules directory ${modulesDir} does not exist; pull the kernel first`);
  }
  const src: DebianSource = { ...DEFAULT_DEBIAN_SOURCE, ...opts.source };
  await preflight();

  const started = Date.now();
  await cleanStaleStaging(opts.paths, log);
  const staging = await createStaging(opts.paths, 'build');
  try {
    const root = join(staging.dir, 'root');
    const out = join(staging.dir, 'image');
    await mkdir(root, { mode: 0o755 });
    await mkdir(out);

    const archives = join(root, 'var/cache/apt/archives');
    const seeded = await seedAptArchives(opts.paths.aptArchiveCacheDir, archives);
    progress('bootstrap', `mmdebstrap ${src.suite} (${packages.length} packages${seeded ? `, ${seeded} cached .debs` : ''})`);
    log.info({ packages, seeded, root }, 'bootstrapping image');
    // mmdebstrap's temporary files (a gpg home it does not always remove) live and die with staging.
    const tmp = join(staging.dir, 'tmp');
    await mkdir(tmp);
    await runStreaming(
      mmdebstrapArgv(root, packages, src),
      (line) => {
        log.debug({ line }, 'mmdebstrap');
        const m = /^I: (.*)$/.exec(line);
        if (m) progress('bootstrap', m[1]);
      },
      { ...process.env, TMPDIR: tmp },
    );
    const bootstrapMs = Date.now() - started;

    progress('customize', 'SSH host key service, sshd settings, masked timers');
    const cache = await harvestAptArchives(archives, opts.paths.aptArchiveCacheDir);
    await applyCustomisation(root, guestCustomisation());

    let release: string | null = null;
    if (modulesDir !== null) {
      progress('modules', `copying ${basename(modulesDir)} and running depmod`);
      release = await installModules(root, modulesDir);
    }

    progress('packages', 'recording installed packages');
    const q = await run(['chroot', root, 'dpkg-query', '-W', '-f', '${Package}\t${Version}\t${db:Status-Status}\n']);
    const installed = parseDpkgQuery(q.stdout);

    const published = await publishRootTree({
      paths: opts.paths,
      root,
      out,
      sizeBytes,
      sizeText,
      manifest: { name, distro: `debian-${src.suite}`, kernelRef, packages: installed, source: 'build' },
      progress,
    });
    log.info({ sha256: published.manifest.sha256, release, packages: installed.length, bootstrapMs, totalMs: Date.now() - started, cache }, 'image built');
    return published;
  } finally {
    await staging.remove();
  }
}
