/**
 * The bulk channel's host socket belongs to the daemon alone: QEMU binds it with its umask, so right
 * after start it is made 0600 and checked to be a socket owned by the daemon's user (it already sits
 * in the VM's 0700 runtime directory; this is the second wall). Anything else there is refused.
 */
import { chmodSync, lstatSync } from 'node:fs';
import { BangerError } from '../../api/errors.js';

export function privateSocket(path: string, uid = process.getuid?.() ?? 0): void {
  const st = lstatSync(path);
  if (!st.isSocket()) throw new BangerError('internal', `${path} is not a socket; the bulk channel refuses it (remove it and start the VM again)`);
  if (st.uid !== uid) throw new BangerError('internal', `${path} belongs to uid ${st.uid}, not this daemon's uid ${uid}; the bulk channel refuses it`);
  chmodSync(path, 0o600);
}
