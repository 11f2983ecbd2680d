/**
 * `image build`: the default golden image, made on this host from Debian packages, as root or as
 * any user with subordinate ids. One pipeline for both:
 *
 *   mmdebstrap --format=tar            (--mode=root as root, --mode=unshare otherwise: a user
 *     + hooks in its namespace          namespace over the user's /etc/subuid range); the kernel's
 *                                       modules are copied in and the image's own depmod indexes
 *                                       them there, the apt cache is synced in and out
 *   → retar.ts                          guest customisation applied to the tar stream
 *   → tar -x under keeper.ts            real owners as root, fakeroot's record otherwise
 *   → mkfs.ext4 -d under the keeper     owners, setuid bits, device nodes land in the ext4
 *
 * Why this route (measured here): bookworm's mkfs.ext4 (1.47.0) cannot read a tar with -d, and a
 * directory bootstrapped in unshare mode is owned by subordinate ids the user cannot modify or
 * delete; a tar made inside the namespace carries the right owners and leaves nothing the user
 * cannot remove. fakeroot then lets the unchanged `tar -x` + `mkfs.ext4 -d` write them, with no
 * per-inode fix-up pass. `image import` (import.ts) shares the same tail. Nothing is registered
 * until the finished directory is renamed into images/<sha256>/.
 */
import { createReadStream } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { BangerError } from '../../api/errors.js';
import { DEFAULT_IMAGE_NAME, DEFAULT_IMAGE_SIZE, ImageName, PackageName, type ImageVariant } from '../../api/image.js';
import { parseSize } from '../../api/names.js';
import { noProgress, type Progress } from '../../api/progress.js';
import { spawnProcess } from '../../host/exec.js';
import { findTool } from '../../host/tools.js';
import { silentLogger, type Logger } from '../../host/logger.js';
import { quote } from '../../guest/quote.js';
import type { Paths } from '../../store/paths.js';
import { aptSourceLines, DEBIAN_ARCHIVE_KEYRING, DEFAULT_DEBIAN_SOURCE, type DebianSource } from '../apt/sources.js';
import { runLines } from '../runlines.js';
import { cleanStaleStaging, createStaging } from '../staging.js';
import { harvestAptArchives } from './aptcache.js';
import { fetchMise } from './mise.js';
import { MISE_GUEST_PATH, variantCustomisation, variantPackages } from './variants.js';
import { extractTarArgv, makeReadable, ownershipKeeper, type OwnershipKeeper } from './keeper.js';
import { planCustomisation, patchTarStream, type TarPlan } from './retar.js';
import { checkRootless } from './rootless.js';
import { readFileInRoot, resolveInRoot } from './rootpath.js';
import { parseDpkgStatus } from './rootfsinfo.js';
import { publishRootTree, type PublishedImage } from './store.js';

export { aptSourceLines, DEFAULT_DEBIAN_SOURCE, type DebianSource } from '../apt/sources.js';

export interface BuildImageOptions {
  paths: Paths;
  /** @default 'debian-bookworm' */
  name?: string;
  /** Packages added to the variant's set. */
  include?: readonly string[];
  /** `default`: the rich image (Docker, python3, node, mise); `minimal`: the small one. @default 'default' */
  variant?: ImageVariant;
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

export interface MmdebstrapPlan {
  /** The tar mmdebstrap writes. */
  output: string;
  packages: readonly string[];
  source: DebianSource;
  /** --mode=unshare (a user namespace over the user's subordinate ids) instead of --mode=root. */
  rootless: boolean;
  /** .debs seeded into the bootstrap's apt archive. */
  aptCacheIn: string;
  /** Where the bootstrap's .debs are synced out to. */
  aptCacheOut: string;
  /** A kernel's /lib/modules/<release> tree, copied in and indexed by the image's own depmod. */
  modulesDir: string | null;
  /** Host files copied in as root-owned executables (the default variant's mise). */
  binaries?: readonly { host: string; guest: string }[];
}

const RELEASE_RE = /^[A-Za-z0-9._+-]+$/;

/** mmdebstrap's argv (pure). As root it runs inside a private mount namespace so no mount outlives a crash. */
export function mmdebstrapArgv(p: MmdebstrapPlan): string[] {
  const hooks = [
    // Special hooks (sync-in/copy-in/sync-out) are parsed by mmdebstrap with shell-word rules: quoted.
    '--setup-hook=mkdir -p "$1"/var/cache/apt/archives/',
    `--setup-hook=sync-in ${quote(p.aptCacheIn)} /var/cache/apt/archives/`,
    `--customize-hook=sync-out /var/cache/apt/archives ${quote(p.aptCacheOut)}`,
  ];
  if (p.modulesDir !== null) {
    const release = basename(p.modulesDir);
    if (!RELEASE_RE.test(release)) throw new BangerError('bad_request', `kernel release ${JSON.stringify(release)} is not a plain name`);
    hooks.push(
      '--customize-hook=mkdir -p "$1"/lib/modules',
      `--customize-hook=copy-in ${quote(p.modulesDir)} /lib/modules/`,
      // copy-in keeps the numeric owner it had outside (the user's, when rootless).
      `--customize-hook=chown -R 0:0 "$1"/lib/modules/${quote(release)} && chroot "$1" /sbin/depmod -a ${quote(release)}`,
    );
  }
  for (const b of p.binaries ?? []) {
    const dir = b.guest.slice(0, b.guest.lastIndexOf('/')) || '/';
    if (!/^\/[A-Za-z0-9._/-]+$/.test(b.guest) || basename(b.guest) !== basename(b.host)) {
      throw new BangerError('internal', `cannot copy ${b.host} to ${b.guest}: the guest path must be absolute and keep the file name`);
    }
    hooks.push(
      `--customize-hook=mkdir -p "$1"${quote(dir)}`,
      `--customize-hook=copy-in ${quote(b.host)} ${quote(dir)}`,
      `--customize-hook=chown 0:0 "$1"${quote(b.guest)} && chmod 0755 "$1"${quote(b.guest)}`,
    );
  }
  return [
    ...(p.rootless ? [] : ['unshare', '--mount', '--propagation', 'private']),
    'mmdebstrap',
    `--mode=${p.rootless ? 'unshare' : 'root'}`,
    '--variant=minbase',
    '--format=tar',
    `--include=${p.packages.join(',')}`,
    // Keep the essential .debs until sync-out has copied them; mmdebstrap's cleanup empties the archive after.
    '--skip=essential/unlink',
    '--aptopt=Acquire::Languages "none"',
    // The Debian archive's keys, also on hosts whose default keyring is another vendor's (Ubuntu).
    `--keyring=${DEBIAN_ARCHIVE_KEYRING}`,
    ...hooks,
    p.source.suite,
    p.output,
    ...aptSourceLines(p.source),
  ];
}

/** The variant's packages plus `include`, deduplicated, order kept. */
export function packageSet(include: readonly string[] = [], variant: ImageVariant = 'minimal'): string[] {
  for (const p of include) {
    const r = PackageName.safeParse(p);
    if (!r.success) throw new BangerError('bad_request', `--include ${JSON.stringify(p)}: ${r.error.issues[0]?.message}`);
  }
  return [...new Set([...variantPackages(variant), ...include])];
}

/** The customisation as tar edits; sync-in gave the archive directory the cache's owner. */
export function buildTarPlan(variant: ImageVariant = 'minimal'): TarPlan {
  return planCustomisation(variantCustomisation(variant), new Map([['var/cache/apt/archives', { uid: 0, gid: 0, mode: 0o755 }]]));
}

async function preflight(rootless: boolean): Promise<void> {
  const needs: [string, string][] = [
    ['mmdebstrap', 'mmdebstrap'],
    ['mkfs.ext4', 'e2fsprogs'],
    ['tar', 'tar'],
  ];
  if (!rootless) needs.push(['unshare', 'util-linux']);
  for (const [cmd, pkg] of needs) {
    if ((await findTool(cmd)) === null) throw new BangerError('unavailable', `image build needs ${cmd}; install it with \`sudo apt-get install ${pkg}\``);
  }
  if (rootless) await checkRootless('build');
}

/**
 * Streams a tar through `plan` into `tar -x` under the keeper. Shared by build (plan = the
 * customisation) and usable by any tar source whose owners must land in an image.
 */
export async function extractPatched(tarFile: string, root: string, plan: TarPlan, keeper: OwnershipKeeper): Promise<void> {
  const proc = spawnProcess(keeper.wrap(extractTarArgv(root)), { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  proc.child.stderr!.on('data', (b: Buffer) => void (stderr = (stderr + b.toString('utf8')).slice(-4000)));
  const patched = patchTarStream(createReadStream(tarFile), proc.child.stdin!, plan).then(
    () => null,
    (e: unknown) => e as Error,
  );
  const [err, code] = await Promise.all([patched, proc.exit]);
  if (code !== 0) throw new BangerError('internal', `extracting the root file system failed (tar exit ${code}): ${stderr.trim().split('\n').slice(-3).join('; ')}`);
  if (err) throw err;
  await makeReadable(keeper, root);
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
  const variant = opts.variant ?? 'default';
  const packages = packageSet(opts.include, variant);
  const modulesDir = opts.modulesDir ?? null;
  const kernelRef = opts.kernelRef ?? null;
  if ((modulesDir === null) !== (kernelRef === null)) {
    throw new BangerError('bad_request', 'modulesDir and kernelRef go together: the manifest names the kernel whose modules are in the image');
  }
  if (modulesDir !== null && !(await lstat(modulesDir).catch(() => null))?.isDirectory()) {
    throw new BangerError('bad_request', `kernel modules directory ${modulesDir} does not exist; pull the kernel first`);
  }
  const src: DebianSource = { ...DEFAULT_DEBIAN_SOURCE, ...opts.source };
  const rootless = process.getuid?.() !== 0;
  await preflight(rootless);

  const started = Date.now();
  await cleanStaleStaging(opts.paths, log);
  const staging = await createStaging(opts.paths, 'build');
  try {
    const tarFile = join(staging.dir, 'bootstrap.tar');
    const debsOut = join(staging.dir, 'debs');
    const root = join(staging.dir, 'root');
    const out = join(staging.dir, 'image');
    await mkdir(root, { mode: 0o755 });
    await mkdir(out);
    await mkdir(opts.paths.aptArchiveCacheDir, { recursive: true });

    // mmdebstrap's temporary root (and a gpg home it does not always remove) lives and dies with
    // staging. Rootless, its owner is a subordinate id, which must be able to reach it: under the
    // world-traversable /tmp, not a home directory that may be 0750.
    let tmp = join(staging.dir, 'tmp');
    if (rootless) {
      tmp = await mkdtemp(join(tmpdir(), 'banger-mmdebstrap-'));
      await staging.link(tmp);
      await chmod(tmp, 0o1777);
    } else await mkdir(tmp);

    const mise = variant === 'default' ? await fetchMise(opts.paths.toolCacheDir, progress) : null;
    if (variant === 'default' && mise === null) log.warn({ arch: process.arch }, 'no mise binary is pinned for this architecture; the image has no mise');
    progress('bootstrap', `mmdebstrap ${src.suite} (${variant} variant: ${packages.length} packages${rootless ? ', rootless' : ''})`);
    log.info({ packages, variant, rootless, tarFile }, 'bootstrapping image');
    const argv = mmdebstrapArgv({ output: tarFile, packages, source: src, rootless, aptCacheIn: opts.paths.aptArchiveCacheDir, aptCacheOut: debsOut, modulesDir, binaries: mise ? [{ host: mise, guest: MISE_GUEST_PATH }] : [] });
    await runLines(
      argv,
      (line) => {
        log.debug({ line }, 'mmdebstrap');
        const m = /^I: (.*)$/.exec(line);
        if (m) progress('bootstrap', m[1]);
      },
      { env: { ...process.env, TMPDIR: tmp }, label: 'mmdebstrap' },
    );
    const bootstrapMs = Date.now() - started;
    const cache = await harvestAptArchives(debsOut, opts.paths.aptArchiveCacheDir);

    progress('extract', `root file system${rootless ? ' (owners kept by fakeroot)' : ''}, with SSH host key service, sshd settings, masked timers`);
    const keeper = ownershipKeeper(join(staging.dir, 'ownership.db'));
    await keeper.init();
    const t0 = Date.now();
    await extractPatched(tarFile, root, buildTarPlan(variant), keeper);
    await rm(tarFile, { force: true });
    const extractMs = Date.now() - t0;

    const release = modulesDir === null ? null : basename(modulesDir);
    if (release !== null) {
      const dep = await resolveInRoot(root, `lib/modules/${release}/modules.dep`);
      if (dep === null) throw new BangerError('internal', `depmod did not write modules.dep for ${release}`);
    }
    const installed = parseDpkgStatus((await readFileInRoot(root, 'var/lib/dpkg/status', 64 * 1024 * 1024)) ?? '');
    if (installed.length === 0) throw new BangerError('internal', 'the bootstrapped root has no installed packages in /var/lib/dpkg/status');

    const published = await publishRootTree({
      paths: opts.paths,
      root,
      out,
      sizeBytes,
      sizeText,
      manifest: { name, distro: `debian-${src.suite}`, kernelRef, packages: installed, source: 'build' },
      progress,
      keeper,
    });
    log.info({ sha256: published.manifest.sha256, variant, release, packages: installed.length, rootless, bootstrapMs, extractMs, totalMs: Date.now() - started, cache }, 'image built');
    return published;
  } finally {
    await staging.remove();
  }
}
