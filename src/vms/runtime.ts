/**
 * What an image's runtime config (OCI Env, WorkingDir, User: api/image.ts ImageRuntimeConfig) does
 * to a guest command, as `docker run` does it: the command runs in WorkingDir (unless the caller
 * gives a directory, e.g. the workspace), with Env exported, as User. Pure: argv in, shell text out,
 * every value quoted by guest/quote.ts.
 *
 * User is applied with `setpriv` (util-linux; banger's guest tools bring it for images without one),
 * looked up before Env replaces PATH. A name without a group gets its primary group from `id -g`
 * (0 when the image cannot say); supplementary groups are cleared.
 */
import type { ImageRuntimeConfig } from '../api/image.js';
import { inDirectoryRaw, quote, shellCommand, withEnv } from '../guest/quote.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ROOT_USERS = new Set(['', 'root', '0', 'root:root', '0:0', 'root:0', '0:root']);

/** `KEY=VALUE` strings -> a record (later wins); entries a shell cannot assign are skipped. */
export function envRecord(env: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env) {
    const i = e.indexOf('=');
    const name = i < 0 ? e : e.slice(0, i);
    if (!ENV_NAME.test(name)) continue;
    out[name] = i < 0 ? '' : e.slice(i + 1);
  }
  return out;
}

/** The image's user when it is not root: `{ user, group }` (group null when not given). */
export function nonRootUser(user: string | null | undefined): { user: string; group: string | null } | null {
  if (user === null || user === undefined || ROOT_USERS.has(user)) return null;
  const i = user.indexOf(':');
  return i < 0 ? { user, group: null } : { user: user.slice(0, i), group: user.slice(i + 1) || null };
}

/** The shell text that runs `argv` the way the image's runtime config says. */
export function runtimeCommand(argv: readonly string[], runtime: ImageRuntimeConfig | null | undefined, cwd?: string): string {
  const dir = cwd ?? (runtime?.workingDir || undefined);
  const who = nonRootUser(runtime?.user);
  let cmd = shellCommand(argv);
  if (who) {
    const gid = who.group ? quote(who.group) : `"$(id -g ${quote(who.user)} 2>/dev/null || echo 0)"`;
    cmd = `exec "$banger_setpriv" --reuid=${quote(who.user)} --regid=${gid} --clear-groups -- ${cmd}`;
  }
  cmd = withEnv(envRecord(runtime?.env ?? []), cmd);
  if (who) cmd = `banger_setpriv=$(command -v setpriv) || { echo 'banger: the image sets a User but the guest has no setpriv' >&2; exit 127; }; ${cmd}`;
  // Braced: a `cd` that fails runs nothing (`cd D && export ...; CMD` would run CMD elsewhere).
  return dir ? inDirectoryRaw(dir, cmd === shellCommand(argv) ? cmd : `{ ${cmd}; }`) : cmd;
}
