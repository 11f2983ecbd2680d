/**
 * The guest's `.git` directory, planned on the host (pure): HEAD, config, packed-refs, shallow.
 * The host writes these files next to the pack and its index, and the whole directory travels in
 * the same tar stream as the working tree, so the guest runs no git command to become a repo.
 */

export interface SkeletonInput {
  /** The commit checked out in the guest. */
  commit: string;
  /** Branch checked out (HEAD is a symbolic ref to it), or null for a detached HEAD. */
  branch: string | null;
  /** Every ref the guest gets, full names (`refs/heads/main`). */
  refs: ReadonlyArray<{ name: string; commit: string }>;
  /** Commits whose parents are not shipped. */
  shallow: readonly string[];
  objectFormat: string;
  identity: { name: string | null; email: string | null };
  /** Config sections copied from the host as `section.sub.key` → value (e.g. submodule.<name>.url). */
  extraConfig?: ReadonlyArray<{ key: string; value: string }>;
  /** The host's `info/exclude`, carried so the guest ignores what the host ignores. */
  exclude?: string | null;
}

/** Relative path under `.git/` → content. */
export type SkeletonFiles = Array<{ path: string; content: string }>;

/** A git config value, double-quoted: backslash, quote, newline and tab escaped. */
export function configValue(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/\r/g, '')}"`;
}

/** A `[section "sub"]` header; git forbids newlines in subsection names. */
function sectionHeader(section: string, sub: string | null): string {
  if (sub === null) return `[${section}]`;
  if (/[\n\0]/.test(sub)) throw new Error(`config subsection ${JSON.stringify(sub)} contains a newline`);
  return `[${section} "${sub.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"]`;
}

/** Splits `a.b.c` (section a, subsection b, key c) the way git does: first and last dot. */
function splitKey(key: string): { section: string; sub: string | null; name: string } | null {
  const first = key.indexOf('.');
  const last = key.lastIndexOf('.');
  if (first <= 0 || last === key.length - 1) return null;
  const section = key.slice(0, first);
  const name = key.slice(last + 1);
  if (!/^[A-Za-z0-9-]+$/.test(section) || !/^[A-Za-z][A-Za-z0-9-]*$/.test(name)) return null;
  return { section, sub: first === last ? null : key.slice(first + 1, last), name };
}

export function configText(input: Pick<SkeletonInput, 'objectFormat' | 'identity' | 'extraConfig'>): string {
  const sha256 = input.objectFormat === 'sha256';
  const lines = [
    '[core]',
    `\trepositoryformatversion = ${sha256 ? 1 : 0}`,
    '\tfilemode = true',
    '\tbare = false',
    '\tlogallrefupdates = true',
    // The index banger ships carries the host's mtimes and sizes (tar keeps both): with these, git
    // trusts it instead of re-reading every file on the first `git status` in the guest.
    '\tcheckStat = minimal',
    '\ttrustctime = false',
  ];
  if (sha256) lines.push('[extensions]', '\tobjectformat = sha256');
  const { name, email } = input.identity;
  if (name !== null || email !== null) {
    lines.push('[user]');
    if (name !== null) lines.push(`\tname = ${configValue(name)}`);
    if (email !== null) lines.push(`\temail = ${configValue(email)}`);
  }
  const sections = new Map<string, string[]>();
  for (const { key, value } of input.extraConfig ?? []) {
    const k = splitKey(key);
    if (!k) continue;
    const header = sectionHeader(k.section, k.sub);
    if (!sections.has(header)) sections.set(header, []);
    sections.get(header)!.push(`\t${k.name} = ${configValue(value)}`);
  }
  for (const [header, body] of sections) lines.push(header, ...body);
  return `${lines.join('\n')}\n`;
}

const REF_NAME = /^refs\/[^\0\n\r ~^:?*[\\]+$/;

export function skeletonFiles(input: SkeletonInput): SkeletonFiles {
  for (const r of input.refs) if (!REF_NAME.test(r.name)) throw new Error(`unexpected ref name ${JSON.stringify(r.name)}`);
  const refs = [...new Map(input.refs.map((r) => [r.name, r])).values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: SkeletonFiles = [
    { path: 'HEAD', content: input.branch ? `ref: refs/heads/${input.branch}\n` : `${input.commit}\n` },
    { path: 'config', content: configText(input) },
    { path: 'packed-refs', content: refs.map((r) => `${r.commit} ${r.name}\n`).join('') },
    { path: 'description', content: 'banger workspace\n' },
  ];
  if (input.shallow.length > 0) files.push({ path: 'shallow', content: [...new Set(input.shallow)].sort().map((c) => `${c}\n`).join('') });
  if (input.exclude) files.push({ path: 'info/exclude', content: input.exclude });
  return files;
}
