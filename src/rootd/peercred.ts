/**
 * Who is on the other end of a unix socket connection, from the kernel (SO_PEERCRED), through the
 * tiny N-API addon native/peercred.c (built into dist/native by scripts/build.mjs). bangerd-root
 * refuses to start without it: there is no fallback that would trust the caller.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { BangerError } from '../api/errors.js';

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

type Addon = { peercred(fd: number): PeerCred };

/** Loads the addon or throws `unavailable` saying how to build it. */
export function loadPeerCred(path = '../native/peercred.node'): (sock: Socket) => PeerCred {
  let addon: Addon;
  try {
    addon = createRequire(import.meta.url)(path) as Addon;
  } catch (err) {
    throw new BangerError('unavailable', `cannot load the SO_PEERCRED addon (dist/native/peercred.node): ${(err as Error).message}; run \`node scripts/build.mjs\` with a C compiler and Node's headers installed`, { cause: err });
  }
  return (sock) => {
    const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) throw new BangerError('internal', 'the connection has no file descriptor to ask for its peer');
    return addon.peercred(fd);
  };
}

/** The admission rule: root, or the installed owner; anyone else is refused with a message naming both. */
export function admitPeer(uid: number, ownerUid: number): string | null {
  if (uid === 0 || uid === ownerUid) return null;
  return `uid ${uid} may not use bangerd-root: only root and the install's owner (uid ${ownerUid}) may`;
}
