/**
 * The owner's QEMU opens its (owner-owned) tap through /dev/net/tun, so the owner must be able to open
 * that device. systemd hosts ship it 0666 (udev's 50-udev-default.rules); hosts without udev (containers)
 * may leave it 0600 root. bangerd-root gives it the distro default once, at start, and says so.
 */
import { chmodSync, statSync } from 'node:fs';
import type { Logger } from '../host/logger.js';

export const TUN_DEVICE = '/dev/net/tun';

/** Whether uid/gid can read and write a file with this owner and mode (root bypasses). */
export function canReadWrite(f: { uid: number; gid: number; mode: number }, uid: number, gid: number): boolean {
  if (uid === 0) return true;
  if (f.uid === uid) return (f.mode & 0o600) === 0o600;
  if (f.gid === gid) return (f.mode & 0o060) === 0o060;
  return (f.mode & 0o006) === 0o006;
}

/** Returns what it did (for the log and tests): 'ok' | 'opened' (mode set to 0666) | 'missing'. */
export function ensureTunAccess(owner: { uid: number; gid: number }, log: Logger, device = TUN_DEVICE): 'ok' | 'opened' | 'missing' {
  let s;
  try {
    s = statSync(device);
  } catch {
    log.warn({ device }, 'no tun device: bridge-mode VMs cannot get a network (load the tun module)');
    return 'missing';
  }
  if (canReadWrite({ uid: s.uid, gid: s.gid, mode: s.mode }, owner.uid, owner.gid)) return 'ok';
  chmodSync(device, 0o666);
  log.warn({ device, was: (s.mode & 0o777).toString(8) }, 'set the tun device to 0666 (the udev default) so the owner can open its taps');
  return 'opened';
}
