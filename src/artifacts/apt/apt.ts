/**
 * Runs apt against banger's private configuration (config.ts): writes the files, keeps the package
 * lists fresh (`apt-get update` when they are older than `maxAgeMs`, or on demand when a package is
 * not found), and runs apt-cache / apt-get with APT_CONFIG pointing at them. Works as any user:
 * every lock and list lives under banger's cache directory. Updates of one directory are
 * shared within the process and take turns (flock) across processes sharing a cache.
 */
import { access, mkdir, stat, writeFile } from 'node:fs/promises';
import { BangerError } from '../../api/errors.js';
import { noProgress, type Progress } from '../../api/progress.js';
import { run, type RunOptions, type RunResult } from '../../host/exec.js';
import { debianArch } from '../image/rootfsinfo.js';
import { runLines } from '../runlines.js';
import { privateAptLayout, renderAptConf, renderSourcesList, type PrivateAptLayout } from './config.js';
import { DEBIAN_ARCHIVE_KEYRING, DEFAULT_DEBIAN_SOURCE, type DebianSource } from './sources.js';

export interface PrivateAptOptions {
  /** The base directory (paths.aptDir). */
  dir: string;
  source?: Partial<DebianSource>;
  /** @default DEBIAN_ARCHIVE_KEYRING */
  keyring?: string;
  /** Lists older than this are refreshed before use. @default 6 h */
  maxAgeMs?: number;
}

export const DEFAULT_LISTS_MAX_AGE_MS = 6 * 3600_000;

export interface PrivateApt {
  readonly layout: PrivateAptLayout;
  /** Environment for apt commands (APT_CONFIG, C locale). */
  env(): NodeJS.ProcessEnv;
  /** `apt-get update` of the private lists, progress per line. */
  update(progress?: Progress): Promise<void>;
  /** Updates when the lists are missing or stale; stale lists are kept (with a warning) when the update fails. */
  ensureFresh(progress?: Progress): Promise<void>;
  /** When the lists were last updated (ms since the epoch), or null when never. */
  listsUpdatedAt(): Promise<number | null>;
  /** Runs an apt command (argv[0] = apt-cache or apt-get) with the private configuration. */
  run(argv: string[], opts?: Omit<RunOptions, 'env'>): Promise<RunResult>;
}

const updating = new Map<string, Promise<void>>();

export function privateApt(opts: PrivateAptOptions): PrivateApt {
  const layout = privateAptLayout(opts.dir);
  const source: DebianSource = { ...DEFAULT_DEBIAN_SOURCE, ...opts.source };
  const keyring = opts.keyring ?? DEBIAN_ARCHIVE_KEYRING;
  const maxAgeMs = opts.maxAgeMs ?? DEFAULT_LISTS_MAX_AGE_MS;
  let prepared: Promise<void> | null = null;

  async function writeFiles(): Promise<void> {
    await access(keyring).catch((err: unknown) => {
      throw new BangerError(
        'unavailable',
        `the Debian archive keyring ${keyring} is missing: banger verifies Debian's signatures with it; install it with \`sudo apt-get install debian-archive-keyring\``,
        { cause: err },
      );
    });
    for (const d of [layout.etcDir, ...layout.emptyDirs, layout.listsDir, `${layout.listsDir}/partial`, `${layout.cacheDir}/archives/partial`]) {
      await mkdir(d, { recursive: true });
    }
    await writeFile(layout.config, renderAptConf(layout, { arch: debianArch() }));
    await writeFile(layout.sourcesList, renderSourcesList(source, keyring));
    await writeFile(layout.status, '');
  }
  const prepare = () => (prepared ??= writeFiles().catch((err: unknown) => {
    prepared = null;
    throw err;
  }));

  const env = (): NodeJS.ProcessEnv => ({ ...process.env, APT_CONFIG: layout.config, LC_ALL: 'C', LANG: 'C' });

  async function listsUpdatedAt(): Promise<number | null> {
    const st = await stat(layout.updatedStamp).catch(() => null);
    return st ? st.mtimeMs : null;
  }

  async function doUpdate(progress: Progress): Promise<void> {
    await prepare();
    progress('apt-update', `refreshing banger's Debian package lists (${source.mirror} ${source.suite})`);
    const problems: string[] = [];
    const failed = await runLines(
      // apt's own lists lock fails at once when held; flock waits for the other update instead.
      ['flock', '--wait', '600', layout.updateLock, 'apt-get', 'update', '-q'],
      (line) => {
        const l = line.trim();
        if (/^(Get|Hit|Ign):/.test(l)) progress('apt-update', l);
        if (/^(E|W|Err):/.test(l)) problems.push(l);
      },
      { env: env(), label: "apt-get update (banger's private Debian lists)" },
    ).then(
      () => null,
      (err: unknown) => err as Error,
    );
    // apt-get update can exit 0 when an index failed; any error line means the lists are not usable.
    const fatal = problems.filter((l) => /^(E|Err):/.test(l));
    if (failed === null && fatal.length === 0) {
      await writeFile(layout.updatedStamp, `${new Date().toISOString()}\n`);
      return;
    }
    const detail = (fatal.length > 0 ? fatal : problems).slice(0, 3).join('; ') || (failed?.message ?? 'unknown error');
    if (problems.some((l) => /NO_PUBKEY|not signed|signature|EXPKEYSIG|BADSIG/i.test(l))) {
      throw new BangerError(
        'unavailable',
        `the Debian archive's signatures do not verify with ${keyring}: ${detail}; update the keyring (\`sudo apt-get install debian-archive-keyring\`) and retry`,
        { cause: failed ?? undefined },
      );
    }
    throw new BangerError('unavailable', `cannot refresh banger's Debian package lists from ${source.mirror}: ${detail}; check the network and retry`, {
      cause: failed ?? undefined,
    });
  }

  function update(progress: Progress = noProgress): Promise<void> {
    const running = updating.get(layout.dir);
    if (running) return running;
    const p = doUpdate(progress).finally(() => updating.delete(layout.dir));
    updating.set(layout.dir, p);
    return p;
  }

  async function ensureFresh(progress: Progress = noProgress): Promise<void> {
    await prepare();
    const at = await listsUpdatedAt();
    if (at !== null && Date.now() - at <= maxAgeMs) return;
    try {
      await update(progress);
    } catch (err) {
      // Offline with lists already there: stale lists still name real packages (downloads are hash-checked).
      if (at === null) throw err;
      progress('apt-update', `warning: ${(err as Error).message}; using the lists from ${new Date(at).toISOString()}`);
    }
  }

  async function runApt(argv: string[], runOpts: Omit<RunOptions, 'env'> = {}): Promise<RunResult> {
    await prepare();
    return run(argv, { ...runOpts, env: env() });
  }

  return { layout, env, update, ensureFresh, listsUpdatedAt, run: runApt };
}
