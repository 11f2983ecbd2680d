/**
 * Networking for the VM lifecycle: what the VM service asks of network/ at create, boot, stop and
 * delete, and at daemon start. User mode: a free 127.0.0.1 port for SSH plus the recorded forwards.
 * Bridge mode: the bridge (the guests' gateway), one tap per VM, NAT rules when asked for, a
 * deterministic IPv4 assigned at create, and the guest's static address on its kernel command line.
 * After every lifecycle change the daemon's DNS records and ssh_config are republished from the
 * VM list. Bridge-level operations run one at a time so a stopping VM never deletes the bridge
 * under a starting one.
 */
import { readFileSync } from 'node:fs';
import type { NetworkMode } from '../api/enums.js';
import { BangerError } from '../api/errors.js';
import type { Progress } from '../api/progress.js';
import type { Vm, VmNetwork } from '../api/vm.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../host/logger.js';
import { NEEDS_HELPER } from '../hypervisor/choice.js';
import type { VmSpec } from '../hypervisor/driver.js';
import { USER_NET } from '../hypervisor/usernet.js';
import type { VmRecord } from '../store/vms.js';
import { orphanRuleVms, tapName, type BridgeOps } from './bridge.js';
import type { DnsServer } from './dns.js';
import { allocateIp, isGuestAddress, macFor, parseCidr } from './ipalloc.js';
import { freePort, portFree, type Forward } from './ports.js';
import { renderSshConfig, sshEntries, writeIfChanged, type SshIdentity } from './sshconfig.js';

/** Why bridge mode is refused for a non-root bangerd without bangerd-root. */

const refuse = (): never => {
  throw new BangerError('unavailable', NEEDS_HELPER);
};
/** Ops for a service wired without bridge support: every host change is refused, listings are empty. */
const noBridge: BridgeOps = {
  ensureBridge: refuse,
  removeBridgeIfIdle: async () => false,
  ensureTap: refuse,
  removeTap: refuse,
  listTaps: async () => [],
  ensureNat: refuse,
  removeNat: async () => undefined,
  listRules: async () => [],
  enableForwarding: refuse,
};

export interface PreparedNetwork {
  spec: VmSpec['network'];
  /** The guest's static configuration (kernel command line, read by the initramfs). */
  boot: { ip: string; prefix: number; gateway: string; dns: string };
  /** Where SSH reaches the guest from the daemon. */
  ssh: { host: string; port: number };
  /** User mode: the forwards QEMU starts with. */
  forwards: Forward[];
  /** The stored network with forwards moved off host ports that were taken meanwhile. */
  network: VmNetwork;
}

export interface ReconcileReport {
  removedTaps: string[];
  removedRules: number;
  bridgeRemoved: boolean;
}

export interface VmNetworking {
  /** The stored network of a new VM; bridge mode gets its address and MAC here. Call under the global lock. */
  assign(p: { id: string; mode: NetworkMode; egress: boolean; nat: boolean; hostAccess?: boolean }, others: readonly VmNetwork[]): VmNetwork;
  /** Checks a `vm set --nat` change. */
  checkNat(network: VmNetwork, nat: boolean, name: string): void;
  /** Host side before boot (idempotent): ports, or bridge + tap + NAT. */
  prepare(rec: VmRecord, progress: Progress): Promise<PreparedNetwork>;
  /** Host side after the hypervisor exited: tap and NAT rules go, the bridge too once idle. Never throws. */
  release(rec: VmRecord): Promise<void>;
  /** DNS records (at once) and ssh_config from the current VMs; resolves once the file is written. Never rejects. */
  publish(vms: readonly Vm[]): Promise<void>;
  /** At daemon start: remove taps and rules no running VM owns; re-ensure those of running VMs. */
  reconcile(running: readonly VmRecord[]): Promise<ReconcileReport>;
}

export interface VmNetworkingDeps {
  config: Config;
  log: Logger;
  /** In-process (root) or through bangerd-root (network/helper-ops.ts); see network/privilege.ts. Absent: no bridge mode. */
  bridge?: BridgeOps;
  /** Published records go here; null when the server could not bind. */
  dns?: DnsServer | null;
  /** Where to write banger's ssh_config, and the identity it names. */
  sshConfig?: { path: string; identity: SshIdentity };
  /** @default the host's upstream resolver, else 1.1.1.1 */
  guestResolver?: () => string;
  /**
   * Null when bridge mode can work here (root, or bangerd-root installed), else why not and what to do.
   * @default null for root, else the `sudo banger system install` message
   */
  cannotBridge?: () => string | null;
}

/** The first non-loopback IPv4 nameserver in resolv.conf texts (systemd-resolved's stub is loopback). */
export function pickResolver(texts: readonly string[]): string | null {
  for (const t of texts) {
    for (const line of t.split('\n')) {
      const m = /^\s*nameserver\s+(\d{1,3}(?:\.\d{1,3}){3})\s*$/.exec(line);
      if (m && !m[1].startsWith('127.') && m[1] !== '0.0.0.0') return m[1];
    }
  }
  return null;
}

function hostResolver(): string {
  const read = (p: string) => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return '';
    }
  };
  // resolved's upstream list first: /etc/resolv.conf then only names its 127.0.0.53 stub.
  return pickResolver([read('/run/systemd/resolve/resolv.conf'), read('/etc/resolv.conf')]) ?? '1.1.1.1';
}

export function createVmNetworking(deps: VmNetworkingDeps): VmNetworking {
  const { config, log } = deps;
  const ops = deps.bridge ?? noBridge;
  const bridge = config.network.bridge;
  const cannotBridge = deps.cannotBridge ?? (() => (deps.bridge && process.getuid?.() === 0 ? null : NEEDS_HELPER));
  const guestResolver = deps.guestResolver ?? (() => config.network.guestDns ?? hostResolver());
  let lastSshConfig = '';
  let writing: Promise<void> = Promise.resolve();

  // One bridge-level change at a time (see the header).
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = chain.then(fn, fn);
    chain = next.catch(() => undefined);
    return next;
  };

  // The bridge's own address is config's bridge_ip (default: the first host address). [config: bridge_ip]
  const subnet = () => ({ ...parseCidr(config.network.cidr), gateway: config.network.bridgeIp });
  const natOf = (rec: Pick<VmRecord, 'id' | 'network'>) => ({ bridge, ip: rec.network.ip!, vmId: rec.id });

  async function userMode(rec: VmRecord, progress: Progress): Promise<PreparedNetwork> {
    const used = new Set<number>();
    const fresh = async () => {
      for (;;) {
        const p = await freePort();
        if (!used.has(p)) return p;
      }
    };
    const sshPort = await fresh();
    used.add(sshPort);
    const forwards: Forward[] = [];
    for (const f of rec.network.forwards ?? []) {
      let hostPort = f.hostPort;
      if (hostPort === null || used.has(hostPort) || !(await portFree(hostPort))) {
        const was = hostPort;
        hostPort = await fresh();
        if (was !== null) progress('network', `127.0.0.1:${was} is taken; guest port ${f.guestPort} is forwarded to 127.0.0.1:${hostPort} instead`);
      }
      used.add(hostPort);
      forwards.push({ hostPort, guestPort: f.guestPort });
    }
    return {
      spec: { mode: 'user', sshHostPort: sshPort, egress: rec.network.egress, forwards, hostAccess: rec.network.hostAccess === true },
      boot: { ...USER_NET },
      ssh: { host: '127.0.0.1', port: sshPort },
      forwards,
      network: rec.network.forwards ? { ...rec.network, forwards: forwards.map((f) => ({ guestPort: f.guestPort, hostPort: f.hostPort })) } : rec.network,
    };
  }

  async function bridgeMode(rec: VmRecord, progress: Progress): Promise<PreparedNetwork> {
    const { ip, mac, nat } = rec.network;
    if (!ip || !mac) throw new BangerError('internal', `bridge-mode VM "${rec.name}" has no address recorded; delete and recreate it`);
    const s = subnet();
    if (!isGuestAddress(s, ip) || ip === s.gateway) {
      throw new BangerError('conflict', `VM "${rec.name}" has address ${ip}, outside the configured [network] cidr ${config.network.cidr}; restore the old cidr or recreate the VM`);
    }
    const tap = tapName(rec.id);
    progress('network', `bridge ${bridge}, tap ${tap}, ${ip}${nat ? ', NAT' : ''}`);
    await serial(async () => {
      await ops.ensureBridge(bridge, `${s.gateway}/${s.prefix}`);
      await ops.ensureTap(rec.id, bridge, { ip, mac });
      if (nat) {
        await ops.enableForwarding();
        await ops.ensureNat(natOf(rec));
      } else {
        await ops.removeNat(rec.id); // NAT was switched off while stopped
      }
    });
    return {
      spec: { mode: 'bridge', tap, mac },
      boot: { ip, prefix: s.prefix, gateway: s.gateway, dns: guestResolver() },
      ssh: { host: ip, port: 22 },
      forwards: [],
      network: rec.network,
    };
  }

  return {
    assign(p, others) {
      if (p.mode === 'user') {
        if (p.nat) throw new BangerError('bad_request', '--nat applies to bridge mode; user-mode VMs reach out unless created with --no-egress');
        if (p.hostAccess && !p.egress) throw new BangerError('bad_request', "--host-access and --no-egress contradict each other: --no-egress cuts the guest off from the host too");
        return { mode: 'user', egress: p.egress, nat: false, ...(p.hostAccess ? { hostAccess: true } : {}) };
      }
      if (p.hostAccess) throw new BangerError('bad_request', "--host-access applies to user-mode networking; a bridge-mode guest reaches the host at the bridge address, not its 127.0.0.1");
      const why = cannotBridge();
      if (why) throw new BangerError('unavailable', why);
      if (p.nat && !p.egress) throw new BangerError('bad_request', '--nat and --no-egress contradict each other; bridge-mode VMs have no egress unless --nat');
      const taken = [config.network.bridgeIp, ...others.filter((n) => n.mode === 'bridge' && n.ip).map((n) => n.ip!)];
      return { mode: 'bridge', egress: p.nat, nat: p.nat, ip: allocateIp(subnet(), p.id, taken), mac: macFor(p.id) };
    },

    checkNat(network, nat, name) {
      if (nat && network.mode !== 'bridge') {
        throw new BangerError('bad_request', `VM "${name}" uses user-mode networking, where --nat does not apply; outbound traffic is on unless it was created with --no-egress`);
      }
    },

    prepare: (rec, progress) => (rec.network.mode === 'bridge' ? bridgeMode(rec, progress) : userMode(rec, progress)),

    async release(rec) {
      if (rec.network.mode !== 'bridge' || !rec.network.ip) return;
      try {
        await serial(async () => {
          await ops.removeNat(rec.id);
          await ops.removeTap(tapName(rec.id));
          await ops.removeBridgeIfIdle(bridge);
        });
      } catch (err) {
        // The VM is down either way; the next daemon start removes what is left.
        log.warn({ vm: rec.name, err: (err as Error).message }, 'could not remove the tap or NAT rules');
      }
    },

    publish(vms) {
      const records = new Map<string, string>();
      for (const v of vms) {
        if (v.state !== 'running') continue;
        const address = v.network.mode === 'bridge' ? v.network.ip : '127.0.0.1';
        if (address) records.set(v.name, address);
      }
      deps.dns?.setRecords(records);
      if (deps.sshConfig) {
        const { path, identity } = deps.sshConfig;
        try {
          const text = renderSshConfig(sshEntries(vms), identity);
          if (text !== lastSshConfig) {
            lastSshConfig = text;
            // Writes in order, so the file ends up with the latest text.
            writing = writing.then(() =>
              writeIfChanged(path, text).then(
                () => undefined,
                (err: Error) => log.warn({ err: err.message, path }, 'could not write the ssh_config'),
              ),
            );
          }
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'could not render the ssh_config');
        }
      }
      return writing;
    },

    reconcile: (running) =>
      serial(async () => {
        const report: ReconcileReport = { removedTaps: [], removedRules: 0, bridgeRemoved: false };
        const bridged = running.filter((r) => r.network.mode === 'bridge' && r.network.ip);
        const keepTaps = new Set(bridged.map((r) => tapName(r.id)));
        for (const tap of await ops.listTaps()) {
          if (keepTaps.has(tap)) continue;
          await ops.removeTap(tap);
          report.removedTaps.push(tap);
        }
        const listed = await ops.listRules();
        const orphans = orphanRuleVms(listed, new Set(bridged.filter((r) => r.network.nat).map((r) => r.id)));
        for (const vmId of orphans) await ops.removeNat(vmId);
        report.removedRules = listed.filter((r) => orphans.includes(r.vmId)).length;
        if (bridged.length > 0) {
          const s = subnet();
          await ops.ensureBridge(bridge, `${s.gateway}/${s.prefix}`);
          for (const r of bridged) {
            await ops.ensureTap(r.id, bridge, r.network.mac ? { ip: r.network.ip!, mac: r.network.mac } : undefined);
            if (r.network.nat) await ops.ensureNat(natOf(r));
          }
        } else {
          report.bridgeRemoved = await ops.removeBridgeIfIdle(bridge);
        }
        return report;
      }),
  };
}
