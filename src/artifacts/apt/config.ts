/**
 * banger's private apt configuration, rendered (pure). Kernels are fetched with apt, but never
 * through the host's apt: an Ubuntu host (or a Debian host with other mirrors) has no
 * linux-image-cloud-amd64, and a non-root user cannot lock /var/lib/apt. Everything apt reads or
 * writes is redirected under one banger-owned directory: sources (the Debian archive only,
 * signed-by the Debian keyring), empty preferences/trusted/parts so nothing of the host's
 * /etc/apt applies, its own lists, cache and an empty dpkg status. Passed to apt as APT_CONFIG,
 * which apt reads before its parts directory, so the host's apt.conf.d is never read either.
 * Signatures are checked as apt always does; nothing here relaxes that.
 */
import { join } from 'node:path';
import { aptSourceLines, type DebianSource } from './sources.js';

export interface PrivateAptLayout {
  /** The base directory (paths.aptDir). */
  dir: string;
  /** apt.conf, the file APT_CONFIG names. */
  config: string;
  etcDir: string;
  sourcesList: string;
  /** Empty directories standing in for the host's sources.list.d, preferences.d, trusted.gpg.d, apt.conf.d. */
  emptyDirs: string[];
  /** An empty dpkg status: apt sees nothing installed, whatever the host has. */
  status: string;
  stateDir: string;
  listsDir: string;
  cacheDir: string;
  /** Written after each successful `apt-get update`; its mtime is the lists' age. */
  updatedStamp: string;
  /** flock(1)ed around `apt-get update`, so daemons sharing a cache directory take turns. */
  updateLock: string;
}

export function privateAptLayout(dir: string): PrivateAptLayout {
  const etcDir = join(dir, 'etc');
  const stateDir = join(dir, 'state');
  return {
    dir,
    config: join(etcDir, 'apt.conf'),
    etcDir,
    sourcesList: join(etcDir, 'sources.list'),
    emptyDirs: ['sources.list.d', 'preferences.d', 'trusted.gpg.d', 'apt.conf.d'].map((d) => join(etcDir, d)),
    status: join(stateDir, 'status'),
    stateDir,
    listsDir: join(stateDir, 'lists'),
    cacheDir: join(dir, 'cache'),
    updatedStamp: join(stateDir, 'updated'),
    updateLock: join(stateDir, 'update.lock'),
  };
}

/** A value inside apt.conf double quotes: apt has no escape for `"`, so such paths are refused. */
function q(value: string): string {
  if (/["\n\\]/.test(value)) throw new Error(`apt configuration value ${JSON.stringify(value)} contains a quote, backslash or newline`);
  return `"${value}"`;
}

export interface AptConfOptions {
  /** dpkg architecture of the packages wanted. */
  arch: string;
}

/** The apt.conf text for `layout`. */
export function renderAptConf(layout: PrivateAptLayout, opts: AptConfOptions): string {
  const [sourceParts, preferencesParts, trustedParts, confParts] = layout.emptyDirs;
  const lines: [string, string][] = [
    ['Dir::Etc', layout.etcDir],
    ['Dir::Etc::main', layout.config],
    ['Dir::Etc::parts', confParts],
    ['Dir::Etc::sourcelist', layout.sourcesList],
    ['Dir::Etc::sourceparts', sourceParts],
    ['Dir::Etc::preferences', join(layout.etcDir, 'preferences')],
    ['Dir::Etc::preferencesparts', preferencesParts],
    // No global trust at all: each source line names its keyring with signed-by.
    ['Dir::Etc::trusted', join(layout.etcDir, 'trusted.gpg')],
    ['Dir::Etc::trustedparts', trustedParts],
    ['Dir::State', layout.stateDir],
    ['Dir::State::lists', layout.listsDir],
    ['Dir::State::status', layout.status],
    ['Dir::Cache', layout.cacheDir],
    ['Dir::Log', join(layout.dir, 'log')],
    ['APT::Architecture', opts.arch],
    ['Acquire::Languages', 'none'],
    ['Acquire::AllowInsecureRepositories', 'false'],
    ['Acquire::AllowDowngradeToInsecureRepositories', 'false'],
    ['APT::Get::AllowUnauthenticated', 'false'],
  ];
  return [
    '// Written by banger: its private apt, independent of the host\'s /etc/apt. Rewritten on every use.',
    ...lines.map(([k, v]) => `${k} ${q(v)};`),
    `APT::Architectures { ${q(opts.arch)}; };`,
    '',
  ].join('\n');
}

/** sources.list: the Debian archive, every line signed-by the Debian archive keyring. */
export function renderSourcesList(src: DebianSource, keyring: string): string {
  return `${aptSourceLines(src, keyring).join('\n')}\n`;
}
