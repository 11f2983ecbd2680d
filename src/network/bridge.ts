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
/** Written as the bridge's ifalias (with the install id) when banger created it, so it only ever deletes its own bridge. */
export const BRIDGE_ALIAS = 'banger-managed';
/** The alias before install ids (still recognised by the in-process path, so an upgrade cleans up). */
const LEGACY_ALIAS = BRIDGE_ALIAS;
/** The iptables comment on every rule banger adds: `banger:<install id>:<vm id>`. */
export const RULE_COMMENT_PREFIX = 'banger:';
/** An install id: 8 lowercase hex digits (system/record.ts InstallId; derived from the state dir without one). */
const INSTALL_ID_RE = /^[0-9a-f]{8}$/;

export const bridgeAlias = (installId: string): string => `${BRIDGE_ALIAS}:${installId}`;
export const ruleComment = (installId: string, vmId: string): string => `${RULE_COMMENT_PREFIX}${installId}:${vmId}`;

function checkInstallId(installId: string): void {
  if (!INSTALL_ID_RE.test(installId)) throw new BangerError('internal', `install id "${installId}" is not 8 lowercase hex digits`);
}

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

export interface NatTarget {
  vmId: string;
  /** The guest's address (its /32 is masqueraded). */
  ip: string;
  bridge: string;
}

/**
 * What bridge mode needs from the host, at the level of VMs (never raw `ip`/`iptables` arguments): the
 * seam between network/vmnet.ts and either this process (root) or bangerd-root (network/helper-ops.ts).
 */
export interface BridgeOps {
  /** Creates the bridge if missing (marking it as this install's), gives it the gateway address, brings it up. */
  ensureBridge(bridge: string, gatewayCidr: string): Promise<void>;
  /** Deletes the bridge if this install created it and nothing is attached to it. Returns whether it did. */
  removeBridgeIfIdle(bridge: string): Promise<boolean>;
  /** Creates the VM's persistent tap if missing (owned by the tap owner), attaches it to the bridge, up. Returns its name. */
  ensureTap(vmId: string, bridge: string): Promise<string>;
  /** Deletes a banger tap (by name: reconcile finds orphans by name). */
  removeTap(tap: string): Promise<void>;
  /** Every banger tap present (in this namespace). */
  listTaps(): Promise<string[]>;
  /** Adds the VM's NAT and FORWARD rules, each unless present. */
  ensureNat(t: NatTarget): Promise<void>;
  /** Deletes every rule tagged for the VM (every copy). */
  removeNat(vmId: string): Promise<void>;
  /** This install's rules currently installed. */
  listRules(): Promise<ListedRule[]>;
  /** NAT needs the kernel to route between the bridge and the uplink. */
  enableForwarding(): Promise<void>;
}

export interface BridgeOpsOptions {
  netns?: string;
  /** Tags the bridge alias and every rule comment (system/record.ts InstallId). */
  installId: string;
  /** Who may open the taps (`ip tuntap add ... user U group G`): the owner when bangerd does not run as root. */
  tapOwner?: { uid: number; gid: number };
  /**
   * Only use a bridge that does not exist yet or carries this install's alias (bangerd-root). Without it an
   * existing bridge of the user's is used as is (and never deleted).
   */
  strictBridge?: boolean;
}

/** The ops plus the raw rule and link primitives they are built from (tests and bangerd-root use these too). */
export interface HostBridgeOps extends BridgeOps {
  link(name: string): Promise<LinkInfo | null>;
  ensureRules(rules: Rule[]): Promise<void>;
  removeRules(rules: Array<{ table: Rule['table']; chain: string; spec: string[] }>): Promise<void>;
}

/** Whether the bridge may be used: absent, or carrying this install's alias (strict) / any alias or none (not strict). */
export function bridgeUsable(l: LinkInfo | null, installId: string, strict: boolean): boolean {
  if (!l) return true;
  return !strict || l.ifalias === bridgeAlias(installId);
}

/** Whether banger may delete this bridge: created by this install (or by banger before install ids, when not strict). */
export function bridgeOurs(l: LinkInfo | null, installId: string, strict: boolean): boolean {
  if (!l) return false;
  return l.ifalias === bridgeAlias(installId) || (!strict && l.ifalias === LEGACY_ALIAS);
}

export function createBridgeOps(opts: BridgeOpsOptions): HostBridgeOps {
  checkInstallId(opts.installId);
  const strict = opts.strictBridge ?? false;
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

  async function ensureRules(rules: Rule[]): Promise<void> {
    for (const rule of rules) {
      if (await has(rule)) continue;
      await ipt(rule.table, rule.insert ? ['-I', rule.chain, '1', ...rule.spec] : ['-A', rule.chain, ...rule.spec]);
    }
  }

  async function removeRules(rules: Array<{ table: Rule['table']; chain: string; spec: string[] }>): Promise<void> {
    for (const rule of rules) {
      // Bounded: a rule listed N times takes N deletes.
      for (let i = 0; i < 16 && (await has(rule)); i++) await ipt(rule.table, ['-D', rule.chain, ...rule.spec]);
    }
  }

  async function listRules(): Promise<ListedRule[]> {
    const out: ListedRule[] = [];
    for (const c of RULE_CHAINS) {
      const r = await ipt(c.table, ['-S', c.chain], false);
      if (r.code !== 0) continue; // no such table/chain on this host: nothing of ours there
      out.push(...parseBangerRules(c.table, r.stdout, opts.installId, { legacy: !strict }));
    }
    return out;
  }

  return {
    link,
    ensureRules,
    removeRules,
    listRules,
    async ensureBridge(bridge, gatewayCidr) {
      const existing = await link(bridge);
      if (!bridgeUsable(existing, opts.installId, strict)) {
        throw new BangerError('bad_request', `bridge ${bridge} exists and was not created by this banger install (alias ${JSON.stringify(existing?.ifalias ?? '')}); set [network] bridge to another name`);
      }
      if (!existing) {
        const r = await ip(['link', 'add', 'name', bridge, 'type', 'bridge'], false);
        // Lost a race with a concurrent create: fine as long as it exists now.
        if (r.code !== 0 && !(await link(bridge))) {
          throw new BangerError('unavailable', `cannot create bridge ${bridge}: ${r.stderr.trim()}; bridge networking needs root (CAP_NET_ADMIN)`);
        }
        await ip(['link', 'set', 'dev', bridge, 'alias', bridgeAlias(opts.installId)]);
      }
      await ip(['addr', 'replace', gatewayCidr, 'dev', bridge]);
      await ip(['link', 'set', 'dev', bridge, 'up']);
    },
    async removeBridgeIfIdle(bridge) {
      const l = await link(bridge);
      if (!bridgeOurs(l, opts.installId, strict)) return false;
      const ports = parseLinks((await ip(['-j', 'link', 'show', 'master', bridge])).stdout);
      if (ports.length > 0) return false;
      await ip(['link', 'del', 'dev', bridge], false);
      return !(await link(bridge));
    },
    async ensureTap(vmId, bridge) {
      const tap = tapName(vmId);
      let existing = await link(tap);
      if (existing && opts.tapOwner) {
        // A tap cannot change owner; one left by someone else (a root daemon's) is replaced while nothing has it open.
        const owner = Number((await run(['cat', `/sys/class/net/${tap}/owner`], { netns: opts.netns, check: false })).stdout.trim());
        if (owner !== opts.tapOwner.uid) {
          // Carrier (LOWER_UP) on a tap means a process has it open.
          if ((existing.flags ?? []).includes('LOWER_UP')) {
            throw new BangerError('conflict', `tap ${tap} is open in a process of uid ${owner}, not the owner's; stop that VM (or the process holding the tap) first`);
          }
          await ip(['link', 'del', 'dev', tap], false);
          existing = null;
        }
      }
      if (!existing) {
        const owner = opts.tapOwner ? ['user', String(opts.tapOwner.uid), 'group', String(opts.tapOwner.gid)] : [];
        const r = await ip(['tuntap', 'add', 'dev', tap, 'mode', 'tap', ...owner], false);
        if (r.code !== 0 && !(await link(tap))) {
          throw new BangerError('unavailable', `cannot create tap ${tap}: ${r.stderr.trim()}; bridge networking needs root and /dev/net/tun`);
        }
      }
      await ip(['link', 'set', 'dev', tap, 'master', bridge]);
      await ip(['link', 'set', 'dev', tap, 'up']);
      return tap;
    },
    async removeTap(tap) {
      if (!isBangerTap(tap)) throw new BangerError('bad_request', `${JSON.stringify(tap)} is not a banger tap (bgr + up to 12 letters or digits)`);
      if (await link(tap)) await ip(['link', 'del', 'dev', tap], false);
      if (await link(tap)) throw new BangerError('internal', `tap ${tap} is still present after deleting it`);
    },
    async listTaps() {
      return parseLinks((await ip(['-j', 'link', 'show'])).stdout)
        .map((l) => l.ifname)
        .filter(isBangerTap);
    },
    ensureNat: (t) => ensureRules(natRules({ ...t, installId: opts.installId })),
    async removeNat(vmId) {
      await removeRules((await listRules()).filter((r) => r.vmId === vmId));
    },
    async enableForwarding() {
      await run(['sysctl', '-qw', 'net.ipv4.ip_forward=1'], { netns: opts.netns, timeoutMs: 10_000 });
    },
  };
}
