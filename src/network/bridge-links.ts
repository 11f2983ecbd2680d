/**
 * Bridge mode's names and link facts, pure and table-tested: tap names from VM ids, the bridge's
 * install-tagged alias, which links are this install's (from `ip -j link` output), and whether a
 * bridge found on the host is usable or ours to delete. bridge.ts runs the ops on top of these.
 */
import { BangerError } from '../api/errors.js';
import { parseRuleComment } from './bridge-rules.js';

/** Taps banger creates: `bgr` + the first 12 characters of the VM id (15 = IFNAMSIZ - 1). */
export const TAP_PREFIX = 'bgr';
const TAP_RE = /^bgr[0-9a-z]{1,12}$/;
/** Written as the bridge's ifalias (with the install id) when banger created it, so it only ever deletes its own bridge. */
export const BRIDGE_ALIAS = 'banger-managed';
/** The alias before install ids (still recognised by the in-process path, so an upgrade cleans up). */
const LEGACY_ALIAS = BRIDGE_ALIAS;
export const bridgeAlias = (installId: string): string => `${BRIDGE_ALIAS}:${installId}`;

export function tapName(vmId: string): string {
  const t = `${TAP_PREFIX}${vmId.toLowerCase().replace(/[^0-9a-z]/g, '').slice(0, 12)}`;
  if (!TAP_RE.test(t)) throw new BangerError('internal', `cannot derive a tap name from VM id "${vmId}"`);
  return t;
}

export const isBangerTap = (ifname: string): boolean => TAP_RE.test(ifname);

/**
 * Which install a tap belongs to. The name has no room for the install id (IFNAMSIZ), so each tap
 * carries `banger:<install id>:<vm id>` as its ifalias, like the rule comments. Pure.
 * - `ours`: this install's; `other`: another install's (never listed or deleted);
 * - `untagged`: made before taps were tagged — ours to clean only when not strict and nothing has it open.
 */
export function tapOwnerOf(l: LinkInfo, installId: string): 'ours' | 'other' | 'untagged' {
  const tag = l.ifalias ? parseRuleComment(l.ifalias) : null;
  if (!tag || tag.installId === null) return l.ifalias ? 'other' : 'untagged';
  return tag.installId === installId ? 'ours' : 'other';
}

/** The banger taps this install may list and remove: its own, plus idle untagged ones when not strict. */
export function tapsOf(links: readonly LinkInfo[], installId: string, strict: boolean): string[] {
  return links
    .filter((l) => isBangerTap(l.ifname))
    .filter((l) => {
      const owner = tapOwnerOf(l, installId);
      return owner === 'ours' || (owner === 'untagged' && !strict && !(l.flags ?? []).includes('LOWER_UP'));
    })
    .map((l) => l.ifname);
}

export interface LinkInfo {
  ifname: string;
  master?: string;
  ifalias?: string;
  flags?: string[];
}

/** `ip -j link show` output → links (empty output means none). */
export function parseLinks(json: string): LinkInfo[] {
  const text = json.trim();
  if (!text) return [];
  const parsed = JSON.parse(text) as unknown;
  if (!Array.isArray(parsed)) throw new BangerError('internal', 'unexpected `ip -j link` output: not a list');
  return parsed.filter((l): l is LinkInfo => typeof (l as LinkInfo)?.ifname === 'string');
}

/** What a tap's guard lets through: frames from this MAC, IPv4 and ARP from this address. */
export function bridgeUsable(l: LinkInfo | null, installId: string, strict: boolean): boolean {
  if (!l) return true;
  return !strict || l.ifalias === bridgeAlias(installId);
}

/** Whether banger may delete this bridge: created by this install (or by banger before install ids, when not strict). */
export function bridgeOurs(l: LinkInfo | null, installId: string, strict: boolean): boolean {
  if (!l) return false;
  return l.ifalias === bridgeAlias(installId) || (!strict && l.ifalias === LEGACY_ALIAS);
}

