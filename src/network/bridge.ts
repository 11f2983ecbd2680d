/**
 * Bridge mode on the host: one bridge (the guests' gateway), one tap per VM, and per-VM NAT rules.
 * Planners (names, parsing `ip -j` output; the rules are in bridge-rules.ts) are pure and table-tested;
 * the ops run `ip`/`iptables` through host/exec and are each idempotent, so a half-done setup or
 * teardown can simply be run again. Everything runs in the caller's network namespace (or `netns`).
 */
import { BangerError } from '../api/errors.js';
import { run } from '../host/exec.js';
import { statSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { forwardingRecordText, forwardingToRecord, forwardingToRestore, recordedForwarding, GUARD_HOOKS, guardChain, guardJump, guardRules, parseGuardChains } from './bridge-guard.js';
import { bridgeAlias, BRIDGE_ALIAS, bridgeOurs, bridgeUsable, isBangerTap, parseLinks, tapName, tapOwnerOf, tapsOf, TAP_PREFIX, type LinkInfo } from './bridge-links.js';
import { checkInstallId, natRules, parseBangerRules, ruleComment, RULE_CHAINS, type ListedRule, type Rule } from './bridge-rules.js';

export * from './bridge-rules.js';
export * from './bridge-links.js';

export interface TapGuard {
  ip: string;
  mac: string;
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
  /**
   * Creates the VM's persistent tap if missing (owned by the tap owner, tagged with the install id),
   * attaches it to the bridge as an isolated port, binds it to the guest's address and MAC when
   * `guard` is given (network/bridge-guard.ts), up. Returns its name.
   */
  ensureTap(vmId: string, bridge: string, guard?: TapGuard): Promise<string>;
  /** Deletes a banger tap of this install and its guard (by name: reconcile finds orphans by name). */
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
   * Where the value of `net.ipv4.ip_forward` before banger switched it on is kept, to be written back
   * when the last banger bridge goes away. @default /run/banger-ip_forward (a netns: per namespace)
   */
  forwardingRecord?: string;
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

  const eb = (args: string[], check = true) => run(['ebtables', '--concurrent', '-t', 'filter', ...args], { netns: opts.netns, check, timeoutMs: 15_000 });
  const forwardingRecord = opts.forwardingRecord ?? `/run/banger-ip_forward${opts.netns ? `.${opts.netns}` : ''}`;
  // Which network namespace the sysctl belongs to (a record from another one is never applied).
  const nsId = () => (opts.netns ? `netns:${opts.netns}` : `ino:${statSync('/proc/self/ns/net').ino}`);

  async function removeGuard(tap: string): Promise<void> {
    const chain = guardChain(opts.installId, tap);
    for (const hook of GUARD_HOOKS) {
      for (let i = 0; i < 16 && (await eb(['-D', hook, ...guardJump(tap, chain)], false)).code === 0; i++);
    }
    await eb(['-F', chain], false);
    await eb(['-X', chain], false);
  }

  async function ensureGuard(tap: string, g: TapGuard): Promise<void> {
    const rules = guardRules(g.ip, g.mac); // validates before anything changes
    const chain = guardChain(opts.installId, tap);
    await removeGuard(tap);
    const made = await eb(['-N', chain, '-P', 'RETURN'], false);
    if (made.code !== 0) throw new BangerError('unavailable', `cannot create ebtables chain ${chain}: ${made.stderr.trim()}; bridge mode needs ebtables (apt-get install ebtables)`);
    for (const r of rules) await eb(['-A', chain, ...r]);
    for (const hook of GUARD_HOOKS) await eb(['-I', hook, '1', ...guardJump(tap, chain)]);
  }

  async function bangerBridges(): Promise<number> {
    return parseLinks((await ip(['-j', 'link', 'show', 'type', 'bridge'], false)).stdout).filter((l) => (l.ifalias ?? '').startsWith(BRIDGE_ALIAS)).length;
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
      if (await link(bridge)) return false;
      // The last banger bridge is gone: put ip_forward back as it was before banger switched it on.
      const recorded = recordedForwarding(await readFile(forwardingRecord, 'utf8').catch(() => null), nsId());
      const restore = forwardingToRestore(recorded, await bangerBridges());
      if (restore !== null) {
        await run(['sysctl', '-qw', `net.ipv4.ip_forward=${restore}`], { netns: opts.netns, timeoutMs: 10_000 });
        await rm(forwardingRecord, { force: true });
      }
      return true;
    },
    async ensureTap(vmId, bridge, guard) {
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
      } else if (tapOwnerOf(existing, opts.installId) === 'other') {
        throw new BangerError('conflict', `tap ${tap} belongs to another banger install (alias ${JSON.stringify(existing.ifalias)}); it is left alone`);
      }
      await ip(['link', 'set', 'dev', tap, 'alias', ruleComment(opts.installId, tap.slice(TAP_PREFIX.length))]);
      await ip(['link', 'set', 'dev', tap, 'master', bridge]);
      // Guests never reach each other through the bridge, only the host (the bridge itself).
      await run(['bridge', 'link', 'set', 'dev', tap, 'isolated', 'on'], { netns: opts.netns, timeoutMs: 15_000 });
      if (guard) await ensureGuard(tap, guard);
      await ip(['link', 'set', 'dev', tap, 'up']);
      return tap;
    },
    async removeTap(tap) {
      if (!isBangerTap(tap)) throw new BangerError('bad_request', `${JSON.stringify(tap)} is not a banger tap (bgr + up to 12 letters or digits)`);
      const l = await link(tap);
      if (l && tapOwnerOf(l, opts.installId) === 'other') {
        throw new BangerError('conflict', `tap ${tap} belongs to another banger install (alias ${JSON.stringify(l.ifalias)}); it is left alone`);
      }
      if (l) await ip(['link', 'del', 'dev', tap], false);
      await removeGuard(tap);
      if (await link(tap)) throw new BangerError('internal', `tap ${tap} is still present after deleting it`);
    },
    async listTaps() {
      const taps = tapsOf(parseLinks((await ip(['-j', 'link', 'show'])).stdout), opts.installId, strict);
      // Guards whose tap is gone (a crash between the two deletes) are listed too, so cleanup removes them.
      const guards = parseGuardChains((await eb(['-L'], false)).stdout, opts.installId);
      return [...new Set([...taps, ...guards])];
    },
    ensureNat: (t) => ensureRules(natRules({ ...t, installId: opts.installId })),
    async removeNat(vmId) {
      await removeRules((await listRules()).filter((r) => r.vmId === vmId));
    },
    async enableForwarding() {
      const current = (await run(['sysctl', '-n', 'net.ipv4.ip_forward'], { netns: opts.netns, timeoutMs: 10_000 })).stdout;
      const record = forwardingToRecord(current);
      // Only the first switch is recorded: a later call finds it on and must not overwrite the "0".
      if (record !== null) await writeFile(forwardingRecord, forwardingRecordText(record, nsId()), { mode: 0o600 });
      await run(['sysctl', '-qw', 'net.ipv4.ip_forward=1'], { netns: opts.netns, timeoutMs: 10_000 });
    },
  };
}
