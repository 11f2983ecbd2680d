/**
 * Bridge mode's per-guest guard, as pure values (network/bridge.ts applies them).
 *
 * Every guest shares one bridge, so without a guard a guest can send frames with a sibling's MAC or
 * IPv4 (and so use the NAT rules of a sibling that has `--nat`), or answer ARP for a sibling's
 * address. Each tap gets its own ebtables chain in the bridge filter table, entered from INPUT (to
 * the host and the routed/NAT path) and FORWARD (to other bridge ports) for frames arriving on that
 * tap: only the VM's MAC, only IPv4 from its address and ARP about its address pass; all else
 * (IPv6 included: bridge mode is IPv4 only) is dropped. ebtables has no comments, so the chain name
 * is the tag: `banger-<install id>-<tap id>` (another install's chains are never touched).
 * Bridge port isolation (`bridge link set dev TAP isolated on`) keeps guests from reaching each other.
 */
import { BangerError } from '../api/errors.js';
import { MAC_ADDRESS } from '../api/names.js';

export const GUARD_PREFIX = 'banger-';
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The guard chain of a tap (`bgr<id>`): 7 + 8 + 1 + 12 = 28 characters, within ebtables' 31. */
export function guardChain(installId: string, tap: string): string {
  if (!/^[0-9a-f]{8}$/.test(installId) || !/^bgr[0-9a-z]{1,12}$/.test(tap)) throw new BangerError('internal', `no guard chain for install "${installId}" and tap "${tap}"`);
  return `${GUARD_PREFIX}${installId}-${tap.slice(3)}`;
}

/** ebtables arguments (after `-A CHAIN`) of the guard: in order, first match wins. */
export function guardRules(ip: string, mac: string): string[][] {
  const m = mac.toLowerCase();
  if (!MAC_ADDRESS.test(m)) throw new BangerError('bad_request', `MAC address "${mac}" is not of the form 52:54:00:12:34:56`);
  const parts = IPV4.exec(ip);
  if (!parts || parts.slice(1).some((p) => Number(p) > 255)) throw new BangerError('bad_request', `"${ip}" is not an IPv4 address`);
  return [
    ['-s', '!', m, '-j', 'DROP'],
    ['-p', 'IPv4', '--ip-src', '!', ip, '-j', 'DROP'],
    ['-p', 'ARP', '--arp-ip-src', '!', ip, '-j', 'DROP'],
    ['-p', 'ARP', '--arp-mac-src', '!', m, '-j', 'DROP'],
    ['-p', 'IPv4', '-j', 'RETURN'],
    ['-p', 'ARP', '-j', 'RETURN'],
    ['-j', 'DROP'],
  ];
}

/** The built-in chains that jump to a tap's guard. */
export const GUARD_HOOKS = ['INPUT', 'FORWARD'] as const;
export const guardJump = (tap: string, chain: string): string[] => ['-i', tap, '-j', chain];

/** This install's guard chains in `ebtables -L` output → their tap names. Pure. */
export function parseGuardChains(listing: string, installId: string): string[] {
  const prefix = `${GUARD_PREFIX}${installId}-`;
  const taps: string[] = [];
  for (const m of listing.matchAll(/^Bridge chain: ([^,\s]+),/gm)) {
    if (m[1].startsWith(prefix) && /^[0-9a-z]{1,12}$/.test(m[1].slice(prefix.length))) taps.push(`bgr${m[1].slice(prefix.length)}`);
  }
  return taps;
}

/**
 * `ip_forward` bookkeeping. `enable`: the value before banger's first NAT'd guest, to record when
 * banger is the one switching it on (null: it was on already, nothing to restore). `restore`: the
 * value to write back when this install's bridge goes away and no banger bridge is left; null: keep.
 */
export const forwardingToRecord = (current: string): string | null => (current.trim() === '0' ? '0' : null);

/**
 * The record file's text is `<value> <namespace id>`: a record left by another network namespace (a
 * test's, or the host's seen from a namespace) is never applied here. Returns the value, or null.
 */
export const forwardingRecordText = (value: string, nsId: string): string => `${value} ${nsId}\n`;
export function recordedForwarding(text: string | null, nsId: string): string | null {
  const m = /^([01]) (\S+)\n?$/.exec(text ?? '');
  return m && m[2] === nsId ? m[1] : null;
}
export function forwardingToRestore(recorded: string | null, bangerBridgesLeft: number): string | null {
  return recorded !== null && bangerBridgesLeft === 0 ? recorded.trim() : null;
}
