/**
 * Bridge mode on the host: one bridge (the guests' gateway), one tap per VM, and per-VM NAT rules.
 * Planners (names, parsing `ip -j` output; the rules are in bridge-rules.ts) are pure and table-tested;
 * the ops run `ip`/`iptables` through host/exec and are each idempotent, so a half-done setup or
 * teardown can simply be run again. Everything runs in the caller's network namespace (or `netns`).
 */
import { BangerError } from '../api/errors.js';
import { run } from '../host/exec.js';
import { checkInstallId, natRules, parseBangerRules, RULE_CHAINS, type ListedRule, type Rule } from './bridge-rules.js';

export * from './bridge-rules.js';

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
