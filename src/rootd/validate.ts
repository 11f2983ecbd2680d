/**
 * bangerd-root's checks on every value a caller sends, as pure functions (table-tested): addresses
 * inside the CIDR the helper was started with, banger tap names, bridge names that are not taps,
 * loopback resolver addresses, and the jailer's binaries and chroot. A refusal is `bad_request`
 * naming the value and what is allowed instead.
 */
import { isAbsolute, normalize, relative } from 'node:path';
import { BangerError } from '../api/errors.js';
import { isBangerTap } from '../network/bridge.js';
import { ipToInt, isGuestAddress, parseCidr } from '../network/ipalloc.js';

const refuse = (message: string): never => {
  throw new BangerError('bad_request', message);
};

/** The guest address `ip` must be a guest address of `cidr` (not network, gateway or broadcast). */
export function checkGuestIp(cidr: string, ip: string): void {
  const s = parseCidr(cidr);
  ipToInt(ip); // malformed → bad_request naming it
  if (!isGuestAddress(s, ip)) refuse(`address ${ip} is not a guest address of ${cidr}, the CIDR bangerd-root was started with (--cidr)`);
}

/** The bridge address must be the CIDR's gateway with its prefix (the only address the bridge ever gets). */
export function checkGateway(cidr: string, gatewayCidr: string): void {
  const s = parseCidr(cidr);
  const want = `${s.gateway}/${s.prefix}`;
  const [addr] = gatewayCidr.split('/');
  ipToInt(addr);
  if (gatewayCidr !== want) refuse(`bridge address ${gatewayCidr} is not ${want}, the gateway of ${cidr} (bangerd-root --cidr); set [network] cidr to ${cidr} or restart the helper with --cidr`);
}

export function checkTap(tap: string): void {
  if (!isBangerTap(tap)) refuse(`${JSON.stringify(tap)} is not a banger tap (bgr + up to 12 letters or digits); bangerd-root only removes banger's taps`);
}

/** A bridge name must not look like a tap (so a tap can never be claimed as the bridge) nor be a well-known device. */
export function checkBridgeName(bridge: string): void {
  if (isBangerTap(bridge)) refuse(`bridge name ${bridge} is a banger tap name; use a name like br-banger`);
  if (bridge === 'lo' || bridge === '.' || bridge === '..') refuse(`${JSON.stringify(bridge)} cannot be the bridge`);
}

/** banger's DNS listens on loopback; resolved is only ever pointed there. */
export function checkResolverHost(host: string): void {
  const n = ipToInt(host);
  if (n >>> 24 !== 127) refuse(`resolver address ${host} is not a loopback address (127.0.0.0/8); banger's DNS server listens on loopback`);
}

/** What bangerd-root learned about one file (stat, and the same for each parent directory). */
export interface PathFacts {
  path: string;
  exists: boolean;
  uid: number;
  gid: number;
  mode: number;
  isFile: boolean;
  isDir: boolean;
}

/**
 * Reasons a binary may not be run as root by the jailer: missing, not a regular file, not owned by
 * root, or writable by anyone but root (group or other write, or a group the owner is in) — checked
 * for the file and every directory above it, so the owner cannot swap it.
 */
export function binaryProblems(label: string, chain: readonly PathFacts[], ownerGid: number): string[] {
  const [file, ...parents] = chain;
  if (!file || !file.exists) return [`${label} ${file?.path ?? '(none)'} does not exist`];
  const out: string[] = [];
  if (!file.isFile) out.push(`${label} ${file.path} is not a regular file`);
  for (const f of chain) {
    if (!f.exists) continue;
    if (f.uid !== 0) out.push(`${f.path} is owned by uid ${f.uid}, not root`);
    const groupWritable = (f.mode & 0o020) !== 0 && (f.gid !== 0 || f.gid === ownerGid);
    const sticky = f.isDir && (f.mode & 0o1000) !== 0;
    // A sticky directory (/tmp) lets nobody replace root's entries in it.
    if (sticky) continue;
    if ((f.mode & 0o002) !== 0) out.push(`${f.path} is writable by everyone`);
    else if (groupWritable) out.push(`${f.path} is group-writable (gid ${f.gid})`);
  }
  if (parents.length === 0) out.push(`${label} ${file.path}: parent directories were not checked`);
  return out;
}

/** `path` equals `base` or lies inside it, lexically (no `..`, absolute). */
export function within(base: string, path: string): boolean {
  if (!isAbsolute(path) || !isAbsolute(base)) return false;
  if (normalize(path) !== path.replace(/\/+$/, '') && normalize(path) !== path) return false;
  const rel = relative(normalize(base), normalize(path));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

export function checkChrootBase(jailerBase: string, chrootBase: string): void {
  if (!within(jailerBase, chrootBase)) {
    refuse(`jailer chroot base ${chrootBase} is not inside ${jailerBase}, the base bangerd-root was started with (--jailer-base)`);
  }
}
