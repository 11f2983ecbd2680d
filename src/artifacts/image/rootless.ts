/**
 * What a non-root user needs before banger builds or imports images, checked up front so the
 * error names the fix instead of mmdebstrap's or tar's. Building bootstraps Debian with
 * `mmdebstrap --mode=unshare`: a user namespace mapped through newuidmap/newgidmap (package
 * uidmap) onto the user's /etc/subuid and /etc/subgid ranges. Building and importing both keep
 * file ownership with fakeroot (keeper.ts). Parsers are pure; `checkRootless` reads the host.
 */
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { BangerError } from '../../api/errors.js';
import { which } from '../../host/exec.js';

export interface SubIdRange {
  start: number;
  count: number;
}

/** Ranges for `user` (by name or numeric uid) in /etc/subuid or /etc/subgid text. */
export function parseSubIds(text: string, user: string, uid: number): SubIdRange[] {
  const out: SubIdRange[] = [];
  for (const line of text.split('\n')) {
    const [who, start, count] = line.trim().split(':');
    if (who === undefined || start === undefined || count === undefined) continue;
    if (who !== user && who !== String(uid)) continue;
    const s = Number(start);
    const c = Number(count);
    if (Number.isInteger(s) && Number.isInteger(c) && c > 0) out.push({ start: s, count: c });
  }
  return out;
}

/** The fix-it command for a user without subordinate ids. */
export const subIdFix = (user: string) => `sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user}`;

export interface RootlessFacts {
  user: string;
  uid: number;
  subuid: string | null;
  subgid: string | null;
  commands: Record<string, boolean>;
  /** /proc/sys/kernel/unprivileged_userns_clone (Debian) and apparmor_restrict_unprivileged_userns (Ubuntu 24.04), when present. */
  usernsClone: string | null;
  apparmorRestrictsUserns: string | null;
}

/** The problems (each with its fix) that stop `what` as this non-root user; empty when none. Pure. */
export function rootlessProblems(what: 'build' | 'import', f: RootlessFacts): string[] {
  const problems: string[] = [];
  if (!f.commands.fakeroot) problems.push('fakeroot is not installed (keeps file owners without root): `sudo apt-get install fakeroot`');
  if (what === 'import') return problems;
  if (!f.commands.newuidmap || !f.commands.newgidmap) problems.push('newuidmap/newgidmap are not installed: `sudo apt-get install uidmap`');
  const noSub = [f.subuid === null || parseSubIds(f.subuid, f.user, f.uid).length === 0 ? '/etc/subuid' : null, f.subgid === null || parseSubIds(f.subgid, f.user, f.uid).length === 0 ? '/etc/subgid' : null].filter(
    (x): x is string => x !== null,
  );
  if (noSub.length > 0) problems.push(`${f.user} has no range in ${noSub.join(' and ')}: \`${subIdFix(f.user)}\``);
  if (f.usernsClone?.trim() === '0') problems.push('unprivileged user namespaces are disabled: `sudo sysctl -w kernel.unprivileged_userns_clone=1`');
  if (f.apparmorRestrictsUserns?.trim() === '1') {
    problems.push('AppArmor restricts unprivileged user namespaces: `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (or give mmdebstrap an AppArmor profile with `userns`)');
  }
  return problems;
}

const readOrNull = (path: string) => readFile(path, 'utf8').catch(() => null);

/** Reads the host facts for the current (non-root) user. */
export async function rootlessFacts(): Promise<RootlessFacts> {
  const commands: Record<string, boolean> = {};
  for (const c of ['fakeroot', 'newuidmap', 'newgidmap']) commands[c] = (await which(c)) !== null;
  return {
    user: userInfo().username,
    uid: process.getuid?.() ?? -1,
    subuid: await readOrNull('/etc/subuid'),
    subgid: await readOrNull('/etc/subgid'),
    commands,
    usernsClone: await readOrNull('/proc/sys/kernel/unprivileged_userns_clone'),
    apparmorRestrictsUserns: await readOrNull('/proc/sys/kernel/apparmor_restrict_unprivileged_userns'),
  };
}

/** Throws one clear error listing every fix when `what` cannot run as this non-root user. */
export async function checkRootless(what: 'build' | 'import'): Promise<void> {
  const facts = await rootlessFacts();
  const problems = rootlessProblems(what, facts);
  if (problems.length === 0) return;
  throw new BangerError(
    'unavailable',
    `image ${what} as ${facts.user} (not root) needs: ${problems.join('; ')}; then retry`,
    { details: { problems } },
  );
}
