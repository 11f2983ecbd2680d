/**
 * Bridge mode on the host: one bridge (the guests' gateway), one tap per VM, and per-VM NAT rules.
 * Planners (names, rules, parsing `ip -j` and `iptables -S` output) are pure and table-tested;
 * the ops run `ip`/`iptables` through host/exec and are each idempotent, so a half-done setup or
 * teardown can simply be run again. Everything runs in the caller's network namespace (or `netns`).
 */
import { BangerError } from '../api/errors.js';
import { run } from '../host/exec.js';

/** Taps banger creates: `bgr` + the first 12 characters of the VM id (15 = IFNAMSIZ - 1). */
export const TAP_PREFIX = 'bgr';
const TAP_RE = /^bgr[0-9a-z]{1,12}$/;
/** Written as the bridge's ifalias when banger created it, so it only ever deletes its own bridge. */
export const BRIDGE_ALIAS = 'banger-managed';
/** The iptables comment on every rule banger adds: `banger:<vm id>`. */
export const RULE_COMMENT_PREFIX = 'banger:';

export function tapName(vmId: string): string {
  const t = `${TAP_PREFIX}${vmId.toLowerCase().replace(/[^0-9a-z]/g, '').slice(0, 12)}`;
  if (!TAP_RE.test(t)) throw new BangerError('internal', `cannot derive a tap name from VM id "${vmId}"`);
  return t;
}

export const isBangerTap = (ifname: string): boolean => TAP_RE.test(ifname);

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
export function natRules(o: { bridge: string; ip: string; vmId: string }): Rule[] {
  const tag = ['-m', 'comment', '--comment', `${RULE_COMMENT_PREFIX}${o.vmId}`];
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
  /** VM id from the `banger:<id>` comment. */
  vmId: string;
  table: Rule['table'];
  chain: string;
  /** Arguments after the chain name, ready for `-D CHAIN ...`. */
  spec: string[];
}

/** banger's rules in `iptables -t TABLE -S CHAIN` output; other rules are not ours and are ignored. */
export function parseBangerRules(table: Rule['table'], output: string): ListedRule[] {
  const out: ListedRule[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('-A ')) continue;
    const words = splitRuleLine(line);
    const at = words.indexOf('--comment');
    const comment = at >= 0 ? words[at + 1] : undefined;
    if (!comment?.startsWith(RULE_COMMENT_PREFIX)) continue;
    out.push({ vmId: comment.slice(RULE_COMMENT_PREFIX.length), table, chain: words[1], spec: words.slice(2) });
  }
  return out;
}

/** Rules whose VM is not in `keep` (VMs that should have NAT now). */
export function orphanRules(listed: ListedRule[], keep: ReadonlySet<string>): ListedRule[] {
  return listed.filter((r) => !keep.has(r.vmId));
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

export interface BridgeOps {
  /** Creates the bridge if missing (marking it as banger's), gives it the gateway address, brings it up. */
  ensureBridge(bridge: string, gatewayCidr: string): Promise<void>;
  /** Deletes the bridge if banger created it and nothing is attached to it. Returns whether it did. */
  removeBridgeIfIdle(bridge: string): Promise<boolean>;
  /** Creates a persistent tap if missing and attaches it to the bridge, up. */
  ensureTap(tap: string, bridge: string): Promise<void>;
  removeTap(tap: string): Promise<void>;
  /** Every banger tap present (in this namespace). */
  listTaps(): Promise<string[]>;
  linkExists(name: string): Promise<boolean>;
  /** Adds each rule unless present. */
  ensureRules(rules: Rule[]): Promise<void>;
  /** Deletes each rule, every copy of it. */
  removeRules(rules: Array<{ table: Rule['table']; chain: string; spec: string[] }>): Promise<void>;
  /** banger's rules currently installed. */
  listRules(): Promise<ListedRule[]>;
  /** NAT needs the kernel to route between the bridge and the uplink. */
  enableForwarding(): Promise<void>;
}

export function createBridgeOps(opts: { netns?: string } = {}): BridgeOps {
  const ip = (args: string[], check = true) => run(['ip', ...args], { netns: opts.netns, check, timeoutMs: 15_000 });
  // -w: wait for the xtables lock instead of failing when another tool holds it.
  const ipt = (table: string, args: string[], check = true) => run(['iptables', '-w', '-t', table, ...args], { netns: opts.netns, check, timeoutMs: 15_000 });

  async function link(name: string): Promise<LinkInfo | null> {
    const r = await ip(['-j', 'link', 'show', 'dev', name], false);
    if (r.code !== 0) return null;
    return parseLinks(r.stdout)[0] ?? null;
  }

  async function has(rule: { table: Rule['table']; chain: string; spec: string[] }): Promise<boolean> {
    const r = await ipt(rule.table, ['-C', rule.chain, ...rule.spec], false);
    if (r.code === 0) return true;
    if (r.code === 1) return false;
    throw new BangerError('unavailable', `iptables cannot check rules (exit ${r.code}): ${r.stderr.trim()}; bridge networking needs root and iptables`);
  }

  return {
    async ensureBridge(bridge, gatewayCidr) {
      if (!(await link(bridge))) {
        const r = await ip(['link', 'add', 'name', bridge, 'type', 'bridge'], false);
        // Lost a race with a concurrent create: fine as long as it exists now.
        if (r.code !== 0 && !(await link(bridge))) {
          throw new BangerError('unavailable', `cannot create bridge ${bridge}: ${r.stderr.trim()}; bridge networking needs root (CAP_NET_ADMIN)`);
        }
        await ip(['link', 'set', 'dev', bridge, 'alias', BRIDGE_ALIAS]);
      }
      await ip(['addr', 'replace', gatewayCidr, 'dev', bridge]);
      await ip(['link', 'set', 'dev', bridge, 'up']);
    },
    async removeBridgeIfIdle(bridge) {
      const l = await link(bridge);
      if (!l || l.ifalias !== BRIDGE_ALIAS) return false;
      const ports = parseLinks((await ip(['-j', 'link', 'show', 'master', bridge])).stdout);
      if (ports.length > 0) return false;
      await ip(['link', 'del', 'dev', bridge], false);
      return !(await link(bridge));
    },
    async ensureTap(tap, bridge) {
      if (!(await link(tap))) {
        const r = await ip(['tuntap', 'add', 'dev', tap, 'mode', 'tap'], false);
        if (r.code !== 0 && !(await link(tap))) {
          throw new BangerError('unavailable', `cannot create tap ${tap}: ${r.stderr.trim()}; bridge networking needs root and /dev/net/tun`);
        }
      }
      await ip(['link', 'set', 'dev', tap, 'master', bridge]);
      await ip(['link', 'set', 'dev', tap, 'up']);
    },
    async removeTap(tap) {
      if (await link(tap)) await ip(['link', 'del', 'dev', tap], false);
      if (await link(tap)) throw new BangerError('internal', `tap ${tap} is still present after deleting it`);
    },
    async listTaps() {
      return parseLinks((await ip(['-j', 'link', 'show'])).stdout)
        .map((l) => l.ifname)
        .filter(isBangerTap);
    },
    linkExists: async (name) => (await link(name)) !== null,
    async ensureRules(rules) {
      for (const rule of rules) {
        if (await has(rule)) continue;
        await ipt(rule.table, rule.insert ? ['-I', rule.chain, '1', ...rule.spec] : ['-A', rule.chain, ...rule.spec]);
      }
    },
    async removeRules(rules) {
      for (const rule of rules) {
        // Bounded: a rule listed N times takes N deletes.
        for (let i = 0; i < 16 && (await has(rule)); i++) await ipt(rule.table, ['-D', rule.chain, ...rule.spec]);
      }
    },
    async listRules() {
      const out: ListedRule[] = [];
      for (const c of RULE_CHAINS) {
        const r = await ipt(c.table, ['-S', c.chain], false);
        if (r.code !== 0) continue; // no such table/chain on this host: nothing of ours there
        out.push(...parseBangerRules(c.table, r.stdout));
      }
      return out;
    },
    async enableForwarding() {
      await run(['sysctl', '-qw', 'net.ipv4.ip_forward=1'], { netns: opts.netns, timeoutMs: 10_000 });
    },
  };
}
