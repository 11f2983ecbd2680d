/**
 * Who an envd request acts as, and where its relative paths point (pure). The SDK names the user
 * in `Authorization: Basic base64(user:)` (RPC) or `?username=` (/files); without one, banger's
 * guest user, root. Relative paths resolve against that user's home, as envd does.
 */
import { posix } from 'node:path';
import { BangerError } from '../api/errors.js';

export const DEFAULT_USER = 'root';
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

export function checkedUser(name: string | undefined | null): string {
  if (!name) return DEFAULT_USER;
  if (!USER_NAME.test(name)) throw new BangerError('bad_request', `invalid user name ${JSON.stringify(name)}`);
  return name;
}

/** The user from a Basic authorization header (`user:` with an empty password). */
export function userFromAuthorization(header: string | null | undefined): string {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/.exec(header?.trim() ?? '');
  if (!m) return DEFAULT_USER;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  return checkedUser(decoded.split(':')[0]);
}

export const homeOf = (user: string): string => (user === 'root' ? '/root' : `/home/${user}`);

/** An absolute, normalized guest path; relative ones (and `~/...`) are under the user's home. */
export function resolveGuestPath(path: string, user: string): string {
  if (path === '') throw new BangerError('bad_request', 'path is empty');
  if (path.includes('\0')) throw new BangerError('bad_request', 'path contains a NUL byte');
  const p = path === '~' ? homeOf(user) : path.startsWith('~/') ? posix.join(homeOf(user), path.slice(2)) : path;
  return posix.resolve(homeOf(user), p);
}
