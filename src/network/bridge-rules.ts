/**
 * banger's iptables rules for bridge mode, as pure values: the per-VM NAT and FORWARD rules, the comment
 * that tags them (`banger:<install id>:<vm id>`), and parsing `iptables -S` back into this install's
 * rules. Table-tested in bridge.test.ts; network/bridge.ts applies them.
 */
import { BangerError } from '../api/errors.js';

/** The iptables comment on every rule banger adds: `banger:<install id>:<vm id>`. */
export const RULE_COMMENT_PREFIX = 'banger:';
/** An install id: 8 lowercase hex digits (system/record.ts InstallId; derived from the state dir without one). */
const INSTALL_ID_RE = /^[0-9a-f]{8}$/;

export const ruleComment = (installId: string, vmId: string): string => `${RULE_COMMENT_PREFIX}${installId}:${vmId}`;

export function checkInstallId(installId: string): void {
  if (!INSTALL_ID_RE.test(installId)) throw new BangerError('internal', `install id "${installId}" is not 8 lowercase hex digits`);
}

export interface Rule {
  table: 'nat' | 'filter';
  chain: 'POSTROUTING' | 'FORWARD';
  /** The rule as iptables arguments after the chain name. */
  spec: string[];
  /** FORWARD rules go first so a host firewall's DROP policy (Docker) does not eat the guest's traffic. */
  insert: boolean;
}

/**
 * The rules that give one guest outbound access: MASQUERADE for its /32 leaving through anything but
 * the bridge, and FORWARD accepts for its traffic out and the replies back.
 */
export function natRules(o: { bridge: string; ip: string; vmId: string; installId: string }): Rule[] {
  checkInstallId(o.installId);
  const tag = ['-m', 'comment', '--comment', ruleComment(o.installId, o.vmId)];
  const src = `${o.ip}/32`;
  return [
    { table: 'nat', chain: 'POSTROUTING', spec: ['-s', src, '!', '-o', o.bridge, ...tag, '-j', 'MASQUERADE'], insert: false },
    { table: 'filter', chain: 'FORWARD', spec: ['-s', src, '-i', o.bridge, ...tag, '-j', 'ACCEPT'], insert: true },
    {
      table: 'filter',
      chain: 'FORWARD',
      spec: ['-d', src, '-o', o.bridge, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', ...tag, '-j', 'ACCEPT'],
      insert: true,
    },
  ];
}

/** The chains banger adds rules to (reconcile lists these). */
export const RULE_CHAINS: ReadonlyArray<Pick<Rule, 'table' | 'chain'>> = [
  { table: 'nat', chain: 'POSTROUTING' },
  { table: 'filter', chain: 'FORWARD' },
];

/** Splits one `iptables -S` line into words, honouring the double quotes iptables puts around comments. */
export function splitRuleLine(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let quoted = false;
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '\\' && i + 1 < line.length) cur += line[++i];
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') {
      quoted = true;
      inWord = true;
    } else if (c === ' ' || c === '\t') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

export interface ListedRule {
  /** VM id from the `banger:<install id>:<vm id>` comment. */
  vmId: string;
  /** null for a rule written before install ids (`banger:<vm id>`). */
  installId: string | null;
  table: Rule['table'];
  chain: string;
  /** Arguments after the chain name, ready for `-D CHAIN ...`. */
  spec: string[];
}

/** A rule comment → its install id (null: the pre-install-id form) and VM id; null when it is not banger's. */
export function parseRuleComment(comment: string): { installId: string | null; vmId: string } | null {
  if (!comment.startsWith(RULE_COMMENT_PREFIX)) return null;
  const rest = comment.slice(RULE_COMMENT_PREFIX.length);
  const m = /^([0-9a-f]{8}):([0-9a-z]+)$/.exec(rest);
  if (m) return { installId: m[1], vmId: m[2] };
  return /^[0-9a-z]+$/.test(rest) ? { installId: null, vmId: rest } : null;
}

/**
 * The rules of install `installId` in `iptables -t TABLE -S CHAIN` output (plus pre-install-id rules when
 * `legacy`); other rules — another install's, or not banger's — are ignored.
 */
export function parseBangerRules(table: Rule['table'], output: string, installId: string, opts: { legacy?: boolean } = {}): ListedRule[] {
  const out: ListedRule[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('-A ')) continue;
    const words = splitRuleLine(line);
    const at = words.indexOf('--comment');
    const tag = at >= 0 ? parseRuleComment(words[at + 1] ?? '') : null;
    if (!tag) continue;
    if (tag.installId === null ? !opts.legacy : tag.installId !== installId) continue;
    out.push({ ...tag, table, chain: words[1], spec: words.slice(2) });
  }
  return out;
}

/** VMs that have rules but are not in `keep` (VMs that should have NAT now), each once. */
export function orphanRuleVms(listed: readonly ListedRule[], keep: ReadonlySet<string>): string[] {
  return [...new Set(listed.map((r) => r.vmId))].filter((id) => !keep.has(id));
}

