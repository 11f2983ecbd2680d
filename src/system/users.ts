/**
 * Who owns a system install: the user named by --owner or SUDO_USER, looked up through NSS
 * (`getent passwd`, so LDAP/sssd users work), never root. Decisions are pure; lookup is I/O.
 */
import { BangerError } from '../api/errors.js';
import { run } from '../host/exec.js';

export interface Owner {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** `name:x:uid:gid:gecos:home:shell` → Owner; null when the line is not a passwd entry. */
export function parsePasswdLine(line: string): Owner | null {
  const f = line.trim().split(':');
  if (f.length < 7) return null;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (!f[0] || !Number.isInteger(uid) || !Number.isInteger(gid) || !f[5].startsWith('/')) return null;
  return { name: f[0], uid, gid, home: f[5] };
}

/** Which user name to install for: --owner wins, then SUDO_USER; root is refused. */
export function ownerName(flag: string | undefined, sudoUser: string | undefined): string {
  const name = flag ?? sudoUser;
  if (!name) {
    throw new BangerError('bad_request', 'say whose banger this is: run `sudo banger system install` from that user\'s shell (SUDO_USER), or pass --owner USER');
  }
  if (name === 'root') throw new BangerError('bad_request', 'the owner cannot be root: bangerd never runs as root; pass --owner USER (a normal user)');
  return name;
}

/** Refuses owners a daemon cannot run as. */
export function checkOwner(o: Owner): Owner {
  if (o.uid === 0) throw new BangerError('bad_request', `user ${o.name} has uid 0; the owner must be a normal user (--owner USER)`);
  return o;
}

export async function lookupUser(name: string): Promise<Owner> {
  const r = await run(['getent', 'passwd', name], { check: false, timeoutMs: 10_000 });
  const o = r.code === 0 ? parsePasswdLine(r.stdout.split('\n')[0] ?? '') : null;
  if (!o) throw new BangerError('not_found', `unknown user "${name}"; create it first (useradd -m ${name}) or pass --owner with an existing user`);
  return checkOwner(o);
}
