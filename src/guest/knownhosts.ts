/**
 * banger's own known_hosts file format, as pure functions over its lines: parsing, matching an alias,
 * checking a presented key, rekeying and removing. The file store (trust on first use, a changed host
 * key is an error) is knownhostsstore.ts.
 *
 * Entries are keyed by a host alias `NAME.vm` instead of `127.0.0.1:PORT` (forwarded ports change
 * on every start), in OpenSSH's format, so `ssh -o UserKnownHostsFile=FILE -o HostKeyAlias=NAME.vm`
 * checks against the same file. The host key is the guest's first untrusted input: this module is
 * where it is parsed and validated.
 *
 * Pre-identity keys. A VM restored from a snapshot first presents the snapshot's host key (the warm
 * template's, or the forked VM's); banger then gives it its own key (snapshots/identity.ts) and
 * `rekey` records that one, keeping the old one as a `#banger-pre-identity ALIAS TYPE KEY` line (a
 * comment to OpenSSH, which never accepts it). If the guest later presents that key, its disk lost
 * the identity step (killed before the writes reached it): `verify` then fails with a distinct
 * conflict (`details.preIdentity`) that the caller may answer by connecting through
 * `acceptingPreIdentity()` and applying identity again. Any other unknown key is still a conflict.
 */
import { createHash, createHmac } from 'node:crypto';
import { BangerError } from '../api/errors.js';
import { vmHostName } from '../api/names.js';

export interface KnownHostEntry {
  /** Host names or patterns as written (comma-separated in the file); `|1|salt|hash` when hashed. */
  hosts: string[];
  keyType: string;
  /** base64 key blob */
  key: string;
  comment?: string;
}

/** A key the alias's guest had before banger applied its identity (see the module comment). */
export interface PreIdentityKey {
  alias: string;
  keyType: string;
  key: string;
}

/** One line of the file; lines banger does not interpret (comments, markers) are kept verbatim. */
export type KnownHostsLine =
  | { kind: 'entry'; entry: KnownHostEntry; raw: string }
  | { kind: 'preIdentity'; mark: PreIdentityKey; raw: string }
  | { kind: 'other'; raw: string };

export type HostKeyCheck =
  | { status: 'match' }
  | { status: 'unknown' }
  | { status: 'mismatch'; known: KnownHostEntry[] }
  /** Not the recorded key, but one this alias's guest had before its identity was applied. */
  | { status: 'preIdentity'; known: KnownHostEntry[] };

const VM_SUFFIX = vmHostName('');
const PRE_IDENTITY = '#banger-pre-identity';
const ALIAS_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const KEY_TYPE_RE = /^[A-Za-z0-9@._-]{1,64}$/;
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

/** A key type and base64 blob fit to write into the file. */
export const isWellFormedKey = (keyType: string, key: string): boolean => KEY_TYPE_RE.test(keyType) && BASE64_RE.test(key);

/** The known_hosts alias of a VM. */
export const aliasFor = vmHostName;
/** The VM name behind an alias (the alias itself when it is not a `.vm` one). */
export const vmNameOf = (alias: string): string => (alias.endsWith(VM_SUFFIX) ? alias.slice(0, -VM_SUFFIX.length) : alias);

export function checkAlias(alias: string): string {
  if (!ALIAS_RE.test(alias)) throw new BangerError('bad_request', `"${alias}" is not a valid known_hosts alias (letters, digits, '.', '_', '-')`);
  return alias;
}

export function parseKnownHosts(text: string): KnownHostsLine[] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.map(parseLine);
}

function parseLine(raw: string): KnownHostsLine {
  const trimmed = raw.trim();
  const mark = trimmed.split(/\s+/);
  if (mark[0] === PRE_IDENTITY && mark.length === 4 && ALIAS_RE.test(mark[1]) && KEY_TYPE_RE.test(mark[2]) && BASE64_RE.test(mark[3])) {
    return { kind: 'preIdentity', raw, mark: { alias: mark[1], keyType: mark[2], key: mark[3] } };
  }
  // Comments, blanks and marker lines (@cert-authority, @revoked) are not ours to interpret.
  if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith('@')) return { kind: 'other', raw };
  const fields = trimmed.split(/\s+/);
  if (fields.length < 3 || !KEY_TYPE_RE.test(fields[1]) || !BASE64_RE.test(fields[2])) return { kind: 'other', raw };
  const comment = fields.slice(3).join(' ');
  return { kind: 'entry', raw, entry: { hosts: fields[0].split(','), keyType: fields[1], key: fields[2], ...(comment ? { comment } : {}) } };
}

export function formatEntry(entry: KnownHostEntry): string {
  return [entry.hosts.join(','), entry.keyType, entry.key, ...(entry.comment ? [entry.comment] : [])].join(' ');
}

export function formatPreIdentity(mark: PreIdentityKey): string {
  return [PRE_IDENTITY, mark.alias, mark.keyType, mark.key].join(' ');
}

/** The pre-identity keys recorded for an alias. */
export function preIdentityKeys(lines: readonly KnownHostsLine[], alias: string): PreIdentityKey[] {
  const wanted = alias.toLowerCase();
  return lines.flatMap((l) => (l.kind === 'preIdentity' && l.mark.alias.toLowerCase() === wanted ? [l.mark] : []));
}

export function formatKnownHosts(lines: readonly KnownHostsLine[]): string {
  return lines.length === 0 ? '' : `${lines.map((l) => l.raw).join('\n')}\n`;
}

/** Does one host field (plain name or OpenSSH `|1|salt|hash`) name this alias? Patterns are not expanded. */
export function hostMatches(host: string, alias: string): boolean {
  const wanted = alias.toLowerCase();
  if (host.startsWith('|1|')) {
    const [, , salt, hash] = host.split('|');
    if (!salt || !hash) return false;
    const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(wanted).digest('base64');
    return digest === hash;
  }
  return host.toLowerCase() === wanted;
}

export function entriesFor(lines: readonly KnownHostsLine[], alias: string): KnownHostEntry[] {
  return lines.flatMap((l) => (l.kind === 'entry' && l.entry.hosts.some((h) => hostMatches(h, alias)) ? [l.entry] : []));
}

/**
 * Compares a presented key with what is known for the alias. Any known key for the alias that is
 * not this one is a mismatch, even of another type: banger's guests have one (ed25519) host key, so
 * a different one means a different or tampered guest.
 */
export function checkHostKey(lines: readonly KnownHostsLine[], alias: string, keyType: string, key: string): HostKeyCheck {
  const known = entriesFor(lines, alias);
  if (known.length === 0) return { status: 'unknown' };
  if (known.some((e) => e.keyType === keyType && e.key === key)) return { status: 'match' };
  if (preIdentityKeys(lines, alias).some((m) => m.keyType === keyType && m.key === key)) return { status: 'preIdentity', known };
  return { status: 'mismatch', known };
}

/**
 * Makes `keyType key` the alias's only host key; the keys it had become its pre-identity keys
 * (kept once each). For the key a guest was just given over a session verified with the old one.
 */
export function rekeyAlias(lines: readonly KnownHostsLine[], alias: string, keyType: string, key: string): KnownHostsLine[] {
  const marks = preIdentityKeys(lines, alias);
  const fresh = entriesFor(lines, alias)
    .filter((e) => !(e.keyType === keyType && e.key === key) && !marks.some((m) => m.keyType === e.keyType && m.key === e.key))
    .map((e): KnownHostsLine => {
      const mark = { alias, keyType: e.keyType, key: e.key };
      return { kind: 'preIdentity', mark, raw: formatPreIdentity(mark) };
    });
  const entry = { hosts: [alias], keyType, key };
  return [...removeAlias(lines, alias, { keepPreIdentity: true }), ...fresh, { kind: 'entry', entry, raw: formatEntry(entry) }];
}

/** Removes the alias: its own lines (and pre-identity keys, unless kept) go, shared lines lose just that host name. */
export function removeAlias(lines: readonly KnownHostsLine[], alias: string, opts: { keepPreIdentity?: boolean } = {}): KnownHostsLine[] {
  return lines.flatMap((l): KnownHostsLine[] => {
    if (l.kind === 'preIdentity') return !opts.keepPreIdentity && l.mark.alias.toLowerCase() === alias.toLowerCase() ? [] : [l];
    if (l.kind !== 'entry') return [l];
    const hosts = l.entry.hosts.filter((h) => !hostMatches(h, alias));
    if (hosts.length === l.entry.hosts.length) return [l];
    if (hosts.length === 0) return [];
    const entry = { ...l.entry, hosts };
    return [{ kind: 'entry', entry, raw: formatEntry(entry) }];
  });
}

/**
 * Reads the key type and base64 blob from an SSH wire-format public key (as the server sends it
 * in the key exchange). Untrusted bytes: the type must be a sane identifier.
 */
export function hostKeyFromBlob(blob: Buffer): { keyType: string; key: string } {
  if (blob.length < 4) throw new BangerError('bad_request', 'the guest sent a malformed SSH host key');
  const len = blob.readUInt32BE(0);
  const keyType = len <= 64 && blob.length >= 4 + len ? blob.subarray(4, 4 + len).toString('latin1') : '';
  if (!KEY_TYPE_RE.test(keyType)) throw new BangerError('bad_request', 'the guest sent a malformed SSH host key');
  return { keyType, key: blob.toString('base64') };
}

/** OpenSSH-style fingerprint: `SHA256:` + unpadded base64 of the blob's digest. */
export function fingerprint(keyBase64: string): string {
  return `SHA256:${createHash('sha256').update(Buffer.from(keyBase64, 'base64')).digest('base64').replace(/=+$/, '')}`;
}
